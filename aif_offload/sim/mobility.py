"""Terminals and their motion: constant velocity inside a box, reflecting at the walls.

A terminal is stored by its *unfolded* start position and velocity; its position at time t is the
unfolded straight-line position folded back into the box, which is exactly a billiard reflection and
needs no per-step state, so positions at any future time (d2 of eq. 8) cost one closed-form call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aif_offload.sim.scenario import TerminalConfig

FIXED = 0
GROUND_MOBILE = 1
AIR = 2


@dataclass(frozen=True)
class Terminals:
    """Terminals of one episode (leading batch dims allowed): start, velocity, box, kind."""

    start_m: np.ndarray  # (..., T, 3)
    velocity_m_s: np.ndarray  # (..., T, 3)
    low_m: np.ndarray  # (..., T, 3) lower corner of each terminal's box
    high_m: np.ndarray  # (..., T, 3)
    kind: np.ndarray  # (T,) FIXED / GROUND_MOBILE / AIR


def fold_into_box(unfolded: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Reflect coordinates into [low, high]: the mirror image after any number of wall bounces."""
    span = np.maximum(high - low, 1e-12)
    phase = np.mod(unfolded - low, 2.0 * span)
    return low + np.where(phase > span, 2.0 * span - phase, phase)


def positions_at(
    start_m: np.ndarray, velocity_m_s: np.ndarray, low_m: np.ndarray, high_m: np.ndarray, t_s
) -> np.ndarray:
    """Positions at time ``t_s`` (broadcast against the leading dims of ``start_m``)."""
    t = np.asarray(t_s, dtype=float)[..., None]
    return fold_into_box(start_m + velocity_m_s * t, low_m, high_m)


def terminal_kinds(config: TerminalConfig) -> np.ndarray:
    """Kind of each terminal: fixed ones first, then ground mobiles, then UAVs."""
    return np.repeat(
        np.array([FIXED, GROUND_MOBILE, AIR], dtype=np.int8),
        [config.n_fixed, config.n_ground_mobile, config.n_air],
    )


TERMINAL_UNIFORMS = 6  # x, y, z, speed, heading, climb


def build_terminals(uniforms: np.ndarray, config: TerminalConfig) -> Terminals:
    """Terminals of E environments from uniform draws (E, T, TERMINAL_UNIFORMS) in [0, 1)."""
    kind = terminal_kinds(config)
    width, depth = config.area_m
    air = kind == AIR
    shape = uniforms.shape[:-1]
    low = np.zeros((*shape, 3))
    high = np.empty((*shape, 3))
    high[..., 0], high[..., 1] = width, depth
    low[..., 2] = np.where(air, config.air_altitude_m[0], config.ground_height_m)
    high[..., 2] = np.where(air, config.air_altitude_m[1], config.ground_height_m)
    start = low + uniforms[..., :3] * (high - low)

    def between(bounds: tuple[float, float], u: np.ndarray) -> np.ndarray:
        return bounds[0] + u * (bounds[1] - bounds[0])

    u_speed = uniforms[..., 3]
    speed = np.where(
        air, between(config.air_speed_m_s, u_speed), between(config.ground_speed_m_s, u_speed)
    )
    speed = np.where(kind == FIXED, 0.0, speed)
    heading = 2.0 * np.pi * uniforms[..., 4]
    # UAVs also climb or descend a little; ground terminals stay on the ground.
    climb = np.where(air, between((-0.2, 0.2), uniforms[..., 5]), 0.0)
    velocity = np.stack([speed * np.cos(heading), speed * np.sin(heading), speed * climb], axis=-1)
    return Terminals(start_m=start, velocity_m_s=velocity, low_m=low, high_m=high, kind=kind)


def sample_terminals(rng: np.random.Generator, config: TerminalConfig) -> Terminals:
    """Draw start positions, headings and speeds of every terminal for one episode."""
    n = terminal_kinds(config).size
    return build_terminals(rng.random((n, TERMINAL_UNIFORMS)), config)
