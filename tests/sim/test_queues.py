"""Parallel-processing slots (eq. 8's L_q) and resource reservations, against hand ledgers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aif_offload.sim.queues import ParallelSlots, Reservations


def one(x: float) -> np.ndarray:
    return np.array([x])


ENV0, SERVER0 = np.array([0]), np.array([0])


# -------------------------------------------------------------------------------- ParallelSlots
def test_empty_slots_are_free_immediately() -> None:
    slots = ParallelSlots.empty(2, np.array([1, 3]))
    np.testing.assert_array_equal(slots.earliest_free_s(), np.full((2, 2), -np.inf))


def queue_wait(slots: ParallelSlots, env: int, server: int, arrival_s: float) -> float:
    """L_q of a task reaching the server at ``arrival_s``: wait for the earliest-free slot."""
    return max(0.0, float(slots.earliest_free_s()[env, server]) - arrival_s)


def test_single_slot_second_task_waits_for_the_first() -> None:
    slots = ParallelSlots.empty(1, np.array([1]))
    assert queue_wait(slots, 0, 0, 0.0) == 0.0
    slots.occupy(ENV0, SERVER0, one(0.0), one(5.0))  # first task computes 0 -> 5
    # A second task arriving at 2 s waits until 5 s: L_q = 5 - 2.
    assert queue_wait(slots, 0, 0, 2.0) == pytest.approx(3.0)
    slots.occupy(ENV0, SERVER0, one(5.0), one(9.0))
    assert queue_wait(slots, 0, 0, 2.5) == pytest.approx(6.5)
    assert queue_wait(slots, 0, 0, 9.0) == 0.0
    assert queue_wait(slots, 0, 0, 12.0) == 0.0


def test_p_busy_slots_start_at_the_minimum_finish_time() -> None:
    slots = ParallelSlots.empty(1, np.array([3]))
    for end in (7.0, 4.0, 9.0):
        slots.occupy(ENV0, SERVER0, one(0.0), one(end))
    assert float(slots.earliest_free_s()[0, 0]) == 4.0
    # The next task takes the slot that frees at 4 s; then the earliest is the one at 7 s.
    slots.occupy(ENV0, SERVER0, one(4.0), one(10.0))
    assert float(slots.earliest_free_s()[0, 0]) == 7.0
    np.testing.assert_array_equal(np.sort(slots.free_at_s[0, 0]), [7.0, 9.0, 10.0])


def test_not_all_slots_busy_means_no_wait() -> None:
    slots = ParallelSlots.empty(1, np.array([3]))
    slots.occupy(ENV0, SERVER0, one(0.0), one(100.0))
    slots.occupy(ENV0, SERVER0, one(0.0), one(50.0))
    assert float(slots.earliest_free_s()[0, 0]) == -np.inf


def test_slots_beyond_max_parallel_are_never_used() -> None:
    slots = ParallelSlots.empty(2, np.array([1, 4, 2]))
    rng = np.random.default_rng(0)
    for _ in range(200):
        env = np.array([rng.integers(2)])
        server = np.array([rng.integers(3)])
        start = rng.uniform(0, 100, 1)
        slots.occupy(env, server, start, start + rng.uniform(0, 10, 1))
    assert slots.free_at_s.shape == (2, 3, 4)
    assert np.all(slots.free_at_s[:, 0, 1:] == np.inf)
    assert np.all(slots.free_at_s[:, 2, 2:] == np.inf)
    assert np.all(np.isfinite(slots.free_at_s[:, 1, :]))
    assert np.all(np.isfinite(slots.earliest_free_s()))


def test_occupy_never_ends_before_start() -> None:
    slots = ParallelSlots.empty(1, np.array([1]))
    slots.occupy(ENV0, SERVER0, one(6.0), one(3.0))
    assert float(slots.earliest_free_s()[0, 0]) == 6.0


def test_occupy_batched_envs_and_servers_independent() -> None:
    slots = ParallelSlots.empty(3, np.array([1, 1]))
    slots.occupy(np.array([0, 2]), np.array([1, 0]), np.array([0.0, 1.0]), np.array([2.0, 3.0]))
    expected = np.full((3, 2), -np.inf)
    expected[0, 1], expected[2, 0] = 2.0, 3.0
    np.testing.assert_array_equal(slots.earliest_free_s(), expected)


def test_clear_frees_only_listed_envs() -> None:
    slots = ParallelSlots.empty(2, np.array([2, 1]))
    slots.occupy(np.array([0, 1]), np.array([0, 0]), np.zeros(2), np.array([5.0, 5.0]))
    slots.occupy(np.array([0, 1]), np.array([0, 0]), np.zeros(2), np.array([5.0, 5.0]))
    slots.clear(np.array([1]))
    assert float(slots.earliest_free_s()[0, 0]) == 5.0
    assert float(slots.earliest_free_s()[1, 0]) == -np.inf
    assert np.all(slots.free_at_s[:, 1, 1:] == np.inf)


@settings(max_examples=40, deadline=None)
@given(
    p=st.integers(1, 5),
    durations=st.lists(st.floats(0.01, 20.0), min_size=1, max_size=25),
    gaps=st.lists(st.floats(0.0, 5.0), min_size=25, max_size=25),
)
def test_fifo_queue_matches_heap_reference(p: int, durations, gaps) -> None:
    """Tasks in arrival order start at max(arrival, P-th latest finish): a heap of P finish times."""
    import heapq

    slots = ParallelSlots.empty(1, np.array([p]))
    heap = [-np.inf] * p
    t = 0.0
    for duration, gap in zip(durations, gaps, strict=False):
        t += gap
        start = max(t, float(slots.earliest_free_s()[0, 0]))
        expected_start = max(t, heap[0])
        assert start == expected_start
        slots.occupy(ENV0, SERVER0, one(start), one(start + duration))
        heapq.heapreplace(heap, start + duration)


# --------------------------------------------------------------------------------- Reservations
def amount(c: float, w: float, m: float) -> np.ndarray:
    return np.array([[c, w, m]])


def test_reserve_adds_and_release_subtracts_at_release_time() -> None:
    r = Reservations.empty(1, 2, 4)
    r.reserve(ENV0, np.array([1]), one(5.0), amount(71.0, 2.0, 0.5))
    np.testing.assert_array_equal(r.in_use[0], [[0, 0, 0], [71.0, 2.0, 0.5]])
    r.reserve(ENV0, np.array([1]), one(8.0), amount(17.75, 5.0, 0.25))
    np.testing.assert_array_equal(r.in_use[0, 1], [88.75, 7.0, 0.75])
    r.release(one(4.999))
    np.testing.assert_array_equal(r.in_use[0, 1], [88.75, 7.0, 0.75])
    r.release(one(5.0))  # at the release time
    np.testing.assert_array_equal(r.in_use[0, 1], [17.75, 5.0, 0.25])
    r.release(one(5.5))  # nothing more to release yet; no double subtraction
    np.testing.assert_array_equal(r.in_use[0, 1], [17.75, 5.0, 0.25])
    r.release(one(100.0))  # after the release time
    np.testing.assert_array_equal(r.in_use[0], np.zeros((2, 3)))
    assert not r.occupied.any()


def test_release_per_environment_time() -> None:
    r = Reservations.empty(2, 1, 2)
    r.reserve(np.array([0, 1]), np.array([0, 0]), np.array([3.0, 3.0]), np.ones((2, 3)))
    r.release(np.array([3.0, 2.0]))
    np.testing.assert_array_equal(r.in_use[:, 0], [[0, 0, 0], [1, 1, 1]])


def test_empty_server_total_is_exactly_zero() -> None:
    r = Reservations.empty(1, 1, 3)
    for x, t in ((0.1, 1.0), (0.2, 2.0), (0.7, 3.0)):
        r.reserve(ENV0, SERVER0, one(t), amount(x, x, x))
    r.release(one(2.0))
    np.testing.assert_allclose(r.in_use[0, 0], [0.7] * 3, rtol=1e-12)
    r.release(one(3.0))
    np.testing.assert_array_equal(r.in_use[0, 0], [0.0, 0.0, 0.0])


def test_table_full_raises_and_freed_slot_is_reused() -> None:
    r = Reservations.empty(1, 1, 2)
    r.reserve(ENV0, SERVER0, one(1.0), amount(1, 1, 1))
    r.reserve(ENV0, SERVER0, one(2.0), amount(1, 1, 1))
    with pytest.raises(RuntimeError, match="reservation table full"):
        r.reserve(ENV0, SERVER0, one(3.0), amount(1, 1, 1))
    np.testing.assert_array_equal(r.in_use[0, 0], [2, 2, 2])  # the failed call changed nothing
    r.release(one(1.0))
    r.reserve(ENV0, SERVER0, one(3.0), amount(4, 4, 4))
    np.testing.assert_array_equal(r.in_use[0, 0], [5, 5, 5])


def test_table_full_is_per_server() -> None:
    r = Reservations.empty(1, 2, 1)
    r.reserve(ENV0, np.array([0]), one(1.0), amount(1, 1, 1))
    r.reserve(ENV0, np.array([1]), one(1.0), amount(1, 1, 1))  # other server: fine
    with pytest.raises(RuntimeError):
        r.reserve(ENV0, np.array([0]), one(1.0), amount(1, 1, 1))


def test_clear_resets_only_listed_envs() -> None:
    r = Reservations.empty(2, 1, 2)
    r.reserve(np.array([0, 1]), np.array([0, 0]), np.array([9.0, 9.0]), np.ones((2, 3)))
    r.clear(np.array([0]))
    np.testing.assert_array_equal(r.in_use[:, 0], [[0, 0, 0], [1, 1, 1]])
    r.release(np.array([10.0, 10.0]))  # the cleared entry must not be subtracted again
    np.testing.assert_array_equal(r.in_use, np.zeros((2, 1, 3)))


@settings(max_examples=40, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.booleans(),  # reserve (True) or advance time
            st.integers(0, 1),  # server
            st.floats(0.0, 10.0),  # duration or time step
            st.floats(0.001, 100.0),  # amount
        ),
        min_size=1,
        max_size=40,
    )
)
def test_in_use_matches_ledger_and_is_never_negative(ops) -> None:
    r = Reservations.empty(1, 2, 40)
    ledger: list[tuple[int, float, float]] = []  # server, release time, amount
    now = 0.0
    for is_reserve, server, dt, x in ops:
        if is_reserve:
            r.reserve(ENV0, np.array([server]), one(now + dt), amount(x, 2 * x, 3 * x))
            ledger.append((server, now + dt, x))
        else:
            now += dt
            r.release(one(now))
            ledger = [e for e in ledger if e[1] > now]
        assert np.all(r.in_use >= -1e-9)
        for s in (0, 1):
            held = sum(e[2] for e in ledger if e[0] == s)
            np.testing.assert_allclose(
                r.in_use[0, s], [held, 2 * held, 3 * held], rtol=1e-9, atol=1e-9
            )
            assert r.occupied[0, s].sum() == sum(1 for e in ledger if e[0] == s)
