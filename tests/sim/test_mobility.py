"""Terminal motion: billiard reflection in a box, checked against hand examples and an event loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aif_offload.sim.mobility import (
    AIR,
    FIXED,
    GROUND_MOBILE,
    TERMINAL_UNIFORMS,
    build_terminals,
    fold_into_box,
    positions_at,
    sample_terminals,
    terminal_kinds,
)
from aif_offload.sim.scenario import TerminalConfig
from tests.sim.helpers import reflect_by_events

CONFIG = TerminalConfig()  # paper defaults: 10 fixed, 20 ground mobile, 5 UAVs in 2 km x 2 km


# --------------------------------------------------------------------------------- fold_into_box
@settings(max_examples=50, deadline=None)
@given(
    x=st.floats(-1e5, 1e5),
    low=st.floats(-100.0, 100.0),
    span=st.floats(0.1, 500.0),
)
def test_fold_stays_in_box(x: float, low: float, span: float) -> None:
    high = low + span
    y = float(fold_into_box(np.array(x), np.array(low), np.array(high)))
    assert low - 1e-9 <= y <= high + 1e-9


@settings(max_examples=50, deadline=None)
@given(
    low=st.floats(-100.0, 100.0),
    span=st.floats(0.1, 500.0),
    u=st.floats(0.0, 1.0),
)
def test_fold_is_identity_inside(low: float, span: float, u: float) -> None:
    high = low + span
    x = low + u * span
    y = float(fold_into_box(np.array(x), np.array(low), np.array(high)))
    assert y == pytest.approx(x, abs=1e-9 * max(1.0, abs(x)))


def test_fold_vectorised_per_coordinate_box() -> None:
    low = np.array([0.0, -5.0, 1.5])
    high = np.array([10.0, 5.0, 1.5])  # a flat z: everything maps to 1.5
    got = fold_into_box(np.array([[12.0, 7.0, 30.0], [-3.0, -5.0, -2.0]]), low, high)
    np.testing.assert_allclose(got, [[8.0, 3.0, 1.5], [3.0, -5.0, 1.5]], atol=1e-9)


# ----------------------------------------------------------------------------------- reflection
@pytest.mark.parametrize(
    ("x0", "v", "t", "expected"),
    [
        (8.0, 1.0, 1.0, 9.0),  # no bounce
        (8.0, 1.0, 4.0, 8.0),  # one bounce at 10 after 2 s, then 2 m back
        (8.0, 1.0, 14.0, 2.0),  # 8 -> 10 (2 s) -> 0 (10 s) -> 2 (2 s): two bounces
        (2.0, -3.0, 3.0, 7.0),  # 2 -> 0 in 2/3 s, then 7 m up
        (2.0, -3.0, 8.0, 2.0),  # 24 m in all: 2 -> 0 -> 10 -> 0, then 2 m up
        (5.0, 0.0, 100.0, 5.0),
    ],
)
def test_one_dimensional_reflection_by_hand(x0: float, v: float, t: float, expected: float) -> None:
    start = np.array([x0, 0.0, 0.0])
    velocity = np.array([v, 0.0, 0.0])
    low, high = np.zeros(3), np.array([10.0, 10.0, 10.0])
    got = positions_at(start, velocity, low, high, t)
    assert got[0] == pytest.approx(expected, abs=1e-9)
    assert reflect_by_events(x0, v, 0.0, 10.0, t) == pytest.approx(expected, abs=1e-9)


def test_reflection_in_three_dimensions_by_hand() -> None:
    # Box [0, 100] x [0, 50] x [120, 300]; velocity (30, -20, 10) for 5 s.
    start = np.array([90.0, 10.0, 290.0])
    velocity = np.array([30.0, -20.0, 10.0])
    low, high = np.array([0.0, 0.0, 120.0]), np.array([100.0, 50.0, 300.0])
    got = positions_at(start, velocity, low, high, 5.0)
    # x: 90 + 150 = 240 -> hits 100 after 10 m, back 140 -> hits 0 after 100, up 40 -> 40
    # y: 10 - 100 = -90 -> hits 0 after 10, up 50 -> hits 50, down 40 -> 10
    # z: 290 + 50 = 340 -> hits 300 after 10, down 40 -> 260
    np.testing.assert_allclose(got, [40.0, 10.0, 260.0], atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(
    u=st.floats(0.0, 1.0),
    v=st.floats(-40.0, 40.0),
    t=st.floats(0.0, 200.0),
    span=st.floats(1.0, 300.0),
)
def test_reflection_matches_event_loop(u: float, v: float, t: float, span: float) -> None:
    low, high = 5.0, 5.0 + span
    x0 = low + u * span
    got = positions_at(
        np.array([x0, 0.0, 0.0]),
        np.array([v, 0.0, 0.0]),
        np.array([low, 0.0, 0.0]),
        np.array([high, 1.0, 1.0]),
        t,
    )
    assert got[0] == pytest.approx(reflect_by_events(x0, v, low, high, t), abs=1e-6)


def test_positions_broadcast_over_times() -> None:
    start = np.array([[8.0, 1.0, 1.5]])
    velocity = np.array([[1.0, 0.0, 0.0]])
    low, high = np.array([[0.0, 0.0, 1.5]]), np.array([[10.0, 10.0, 1.5]])
    t = np.array([[0.0, 1.0, 4.0, 14.0]]).T  # (4, 1) times against one terminal
    got = positions_at(start, velocity, low, high, t)
    assert got.shape == (4, 1, 3)
    np.testing.assert_allclose(got[:, 0, 0], [8.0, 9.0, 8.0, 2.0], atol=1e-9)


# ------------------------------------------------------------------------------ build_terminals
def test_terminal_kinds_order_and_counts() -> None:
    cfg = TerminalConfig(n_fixed=2, n_ground_mobile=3, n_air=1)
    np.testing.assert_array_equal(
        terminal_kinds(cfg), [FIXED, FIXED, GROUND_MOBILE, GROUND_MOBILE, GROUND_MOBILE, AIR]
    )


def _terminals(seed: int = 0, envs: int = 4):
    n = terminal_kinds(CONFIG).size
    uniforms = np.random.default_rng(seed).random((envs, n, TERMINAL_UNIFORMS))
    return uniforms, build_terminals(uniforms, CONFIG)


def test_fixed_terminals_have_zero_velocity_and_never_move() -> None:
    _, t = _terminals()
    fixed = t.kind == FIXED
    assert fixed.sum() == CONFIG.n_fixed
    assert np.all(t.velocity_m_s[:, fixed] == 0.0)
    for time in (0.0, 3.3, 1e4):
        pos = positions_at(t.start_m, t.velocity_m_s, t.low_m, t.high_m, time)
        np.testing.assert_allclose(pos[:, fixed], t.start_m[:, fixed])


def test_mobile_terminals_move_within_speed_bounds() -> None:
    _, t = _terminals()
    horizontal = np.linalg.norm(t.velocity_m_s[..., :2], axis=-1)
    ground = t.kind == GROUND_MOBILE
    air = t.kind == AIR
    lo, hi = CONFIG.ground_speed_m_s
    assert np.all((horizontal[:, ground] >= lo) & (horizontal[:, ground] <= hi))
    lo, hi = CONFIG.air_speed_m_s
    assert np.all((horizontal[:, air] >= lo) & (horizontal[:, air] <= hi))
    assert np.all(t.velocity_m_s[:, ~air, 2] == 0.0)  # only UAVs climb


@pytest.mark.parametrize("time", [0.0, 0.22, 7.5, 60.0, 3600.0])
def test_altitudes_and_area_over_time(time: float) -> None:
    _, t = _terminals(seed=3)
    pos = positions_at(t.start_m, t.velocity_m_s, t.low_m, t.high_m, time)
    air = t.kind == AIR
    lo, hi = CONFIG.air_altitude_m
    assert np.all(pos[:, air, 2] > 100.0)
    assert np.all((pos[:, air, 2] >= lo - 1e-9) & (pos[:, air, 2] <= hi + 1e-9))
    np.testing.assert_array_equal(pos[:, ~air, 2], CONFIG.ground_height_m)
    w, d = CONFIG.area_m
    assert np.all((pos[..., 0] >= -1e-9) & (pos[..., 0] <= w + 1e-9))
    assert np.all((pos[..., 1] >= -1e-9) & (pos[..., 1] <= d + 1e-9))


def test_uniform_edges_map_to_box_corners() -> None:
    cfg = TerminalConfig(n_fixed=1, n_ground_mobile=0, n_air=1)
    u = np.zeros((2, TERMINAL_UNIFORMS))
    t = build_terminals(u, cfg)
    np.testing.assert_allclose(t.start_m, [[0.0, 0.0, 1.5], [0.0, 0.0, 120.0]])
    # Speed at the low bound, heading 0: UAV moves along +x at 5 m/s, descending 0.2 x speed.
    np.testing.assert_allclose(t.velocity_m_s[1], [5.0, 0.0, -1.0])


def test_build_terminals_batched_equals_per_environment() -> None:
    uniforms, batched = _terminals(seed=11, envs=5)
    for e in range(uniforms.shape[0]):
        single = build_terminals(uniforms[e], CONFIG)
        for field in ("start_m", "velocity_m_s", "low_m", "high_m"):
            np.testing.assert_array_equal(getattr(batched, field)[e], getattr(single, field))
        np.testing.assert_array_equal(batched.kind, single.kind)


def test_sample_terminals_is_seeded() -> None:
    a = sample_terminals(np.random.default_rng(5), CONFIG)
    b = sample_terminals(np.random.default_rng(5), CONFIG)
    c = sample_terminals(np.random.default_rng(6), CONFIG)
    np.testing.assert_array_equal(a.start_m, b.start_m)
    assert not np.array_equal(a.start_m, c.start_m)
    assert a.start_m.shape == (terminal_kinds(CONFIG).size, 3)
