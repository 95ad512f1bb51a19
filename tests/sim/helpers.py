"""Small shared helpers for the simulator tests: scenarios, simulators, random actions."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from aif_offload.scenarios import load_scenario, raw_table, validate
from aif_offload.sim.outcome import Outcome
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.simulator import BatchedSimulator

OUTCOME_FIELDS = (
    "transmission_s",
    "propagation_s",
    "queueing_s",
    "compute_s",
    "latency_s",
    "failure",
    "accuracy",
    "reward",
    "guidance",
    "service_start_s",
    "compute_end_s",
)


def paper(**overrides: float | None) -> Scenario:
    """The default scenario, with the deadline and/or load optionally overridden."""
    return load_scenario(
        "paper", t_max_s=overrides.get("t_max_s"), load_percent=overrides.get("load_percent")
    )


def paper_table() -> dict[str, Any]:
    """A private deep copy of the raw 'paper' table, safe to edit."""
    return copy.deepcopy(raw_table("paper"))


def edited(edit: Callable[[dict[str, Any]], None]) -> Scenario:
    """The 'paper' scenario after ``edit`` changed its raw table in place."""
    table = paper_table()
    edit(table)
    return validate(table, "edited")


def make_sim(scenario: Scenario, seeds: list[int] | int) -> BatchedSimulator:
    """A simulator with one environment per seed, already reset."""
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    sim = BatchedSimulator(scenario, batch_size=len(seeds))
    sim.reset(seeds)
    return sim


def server_index(sim: BatchedSimulator, name: str) -> int:
    return sim.servers.names.index(name)


def level(levels: tuple[float, ...], value: float) -> int:
    """Index of ``value`` in a tuple of action levels."""
    return list(levels).index(value)


def actions_for(
    sim: BatchedSimulator,
    server: int,
    compute: float,
    bandwidth: float,
    memory: float,
) -> np.ndarray:
    """(B, 4) integer actions giving every environment the same allocation (values, not indices)."""
    a = sim.scenario.actions
    row = [
        server,
        level(a.compute_shares, compute),
        level(a.bandwidth_mhz, bandwidth),
        level(a.memory_gb, memory),
    ]
    return np.tile(np.array(row, dtype=np.int64), (sim.batch_size, 1))


def random_actions(sim: BatchedSimulator, rng: np.random.Generator) -> np.ndarray:
    """(B, 4) uniformly random in-range actions."""
    return rng.integers(0, sim.action_nvec, size=(sim.batch_size, 4))


def outcome_row(result: Outcome, row: int) -> dict[str, np.ndarray]:
    """Every field of one environment's outcome."""
    return {f: np.asarray(getattr(result, f))[row] for f in OUTCOME_FIELDS}


def assert_outcomes_equal(a: Outcome, b: Outcome) -> None:
    for f in OUTCOME_FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def reflect_by_events(x: float, v: float, low: float, high: float, t: float) -> float:
    """Reference billiard motion on one axis: walk from wall to wall, flipping v at each bounce."""
    if high == low:
        return low
    while t > 0.0:
        if v == 0.0:
            return x
        wall = high if v > 0 else low
        to_wall = (wall - x) / v
        if to_wall >= t:
            return x + v * t
        x, v, t = wall, -v, t - to_wall
    return x
