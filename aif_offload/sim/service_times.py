"""True service times: how much slower (or faster) than nominal each server computes each task.

compute time = nominal / (speed x drift x throttle) x noise, where

- speed: each server's hidden factor, log-normal with median 1 and log-sd ``speed_sigma``, drawn once
  per *world* seed (the same servers in every episode of a run; no spec sheet states it);
- drift: exp(x) with x an Ornstein-Uhlenbeck process (stationary sd ``drift_sigma``, correlation
  time ``drift_time_s``), sampled exactly at the arrival times, stationary at the episode's start;
- throttle: ``throttle_speed`` during a spell, else 1; spells start at rate ``throttle_per_s`` and
  last an exponential time of mean ``throttle_mean_s`` (a two-state chain, sampled exactly);
- noise: per task and server, log-normal with median 1 and log-sd ``task_sigma``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aif_offload.sim.scenario import ServiceConfig


@dataclass(frozen=True)
class ServiceDraws:
    """Standard normals and uniforms of E episodes on S servers with N tasks."""

    speed_z: np.ndarray  # (E, S) from the world generator
    drift_z: np.ndarray  # (E, N, S)
    throttle_u: np.ndarray  # (E, N, S)
    task_z: np.ndarray  # (E, N, S)


def draw_service_randoms(
    episode_rngs: list[np.random.Generator],
    world_rngs: list[np.random.Generator],
    tasks: int,
    servers: int,
) -> ServiceDraws:
    speed = [rng.standard_normal(servers) for rng in world_rngs]
    drift, throttle, task = [], [], []
    for rng in episode_rngs:
        drift.append(rng.standard_normal((tasks, servers)))
        throttle.append(rng.random((tasks, servers)))
        task.append(rng.standard_normal((tasks, servers)))
    return ServiceDraws(*(np.stack(x) for x in (speed, drift, throttle, task)))


@dataclass(frozen=True)
class ServicePath:
    """The hidden speed of every server at each arrival, and each task's compute-time factor."""

    speed_factor: np.ndarray  # (E, N, S) speed x drift x throttle at the arrival (1 = nominal)
    throttled: np.ndarray  # (E, N, S) bool
    time_factor: np.ndarray  # (E, N, S) true compute time / nominal compute time


def service_path(config: ServiceConfig, draws: ServiceDraws, arrival_s: np.ndarray) -> ServicePath:
    """Turn the draws into speeds at the arrival times ``arrival_s`` (E, N)."""
    e, n, s = draws.drift_z.shape
    gaps = np.diff(arrival_s, axis=1, prepend=arrival_s[:, :1])[..., None]  # (E, N, 1)
    base = np.exp(config.speed_sigma * draws.speed_z)[:, None, :]

    # Ornstein-Uhlenbeck in log speed: x_k = a x_{k-1} + sd sqrt(1 - a^2) z, a = exp(-dt / tau).
    keep = np.exp(-gaps / config.drift_time_s)
    shock = config.drift_sigma * np.sqrt(1.0 - keep**2)
    log_drift = np.empty((e, n, s))
    x = config.drift_sigma * draws.drift_z[:, 0]
    for k in range(n):
        if k:
            x = keep[:, k] * x + shock[:, k] * draws.drift_z[:, k]
        log_drift[:, k] = x

    # Two-state chain: on at rate a, off at rate b; P(on -> on over dt) and P(off -> on over dt).
    on_rate, off_rate = config.throttle_per_s, 1.0 / config.throttle_mean_s
    total = on_rate + off_rate
    share_on = on_rate / total
    settle = 1.0 - np.exp(-total * gaps)
    stay_on = 1.0 - off_rate / total * settle
    become_on = share_on * settle
    throttled = np.empty((e, n, s), dtype=bool)
    state = draws.throttle_u[:, 0] < share_on
    for k in range(n):
        if k:
            state = draws.throttle_u[:, k] < np.where(state, stay_on[:, k], become_on[:, k])
        throttled[:, k] = state

    speed = base * np.exp(log_drift) * np.where(throttled, config.throttle_speed, 1.0)
    noise = np.exp(config.task_sigma * draws.task_z)
    return ServicePath(speed_factor=speed, throttled=throttled, time_factor=noise / speed)
