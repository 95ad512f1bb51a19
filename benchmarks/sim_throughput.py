"""Simulator throughput: task-steps per second through the Gymnasium API and batched.

Measures, each for a fixed wall-clock budget after a warm-up, with random valid actions drawn in
advance (so the agent costs nothing):

1. one environment through ``gym.make`` (with Gymnasium's wrappers), resets included;
2. the same environment class without wrappers;
3. the vector environment at several batch sizes (env-steps per second, autoreset included);
4. the bare ``BatchedSimulator`` at several batch sizes (task-steps per second, resets included);
5. the oracle's per-step cost (``evaluate_all`` over all 240 actions) at batch 1.

Run ``python benchmarks/sim_throughput.py [--seconds 5] [--scenario paper] [--json]``; it prints a
Markdown table with the machine and the date for ``docs/benchmarks.md``, or with ``--json`` one
JSON object instead, one key per row of the table, in its order and unit (the unit ends the key):
``gym_make_steps_per_s``, ``env_direct_steps_per_s``, ``vector_env_{16,256,1024}_env_steps_per_s``,
``batched_simulator_{1,1024,4096}_task_steps_per_s``, ``oracle_evaluate_all_us_per_call``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time

import gymnasium as gym
import numpy as np

import aif_offload
from aif_offload.envs import ENV_ID
from aif_offload.envs.cloud_edge import CloudEdgeLLMEnv
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.scenarios import load_scenario
from aif_offload.sim.simulator import BatchedSimulator


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _timed(step, budget_s: float) -> tuple[int, float]:
    for _ in range(50):  # warm-up
        step()
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < budget_s:
        for _ in range(20):
            step()
        calls += 20
    return calls, elapsed


def single_env(env, budget_s: float) -> float:
    env.reset(seed=0)
    actions = [env.action_space.sample() for _ in range(997)]
    counter = iter(range(10**12))

    def step():
        _, _, terminated, truncated, _ = env.step(actions[next(counter) % 997])
        if terminated or truncated:
            env.reset()

    calls, elapsed = _timed(step, budget_s)
    return calls / elapsed


def vector_env(scenario: str, batch: int, budget_s: float) -> float:
    env = CloudEdgeLLMVectorEnv(batch, scenario)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, env.single_action_space.nvec, size=(16, batch, 4))
    counter = iter(range(10**12))
    calls, elapsed = _timed(lambda: env.step(actions[next(counter) % 16]), budget_s)
    return calls * batch / elapsed


def bare_simulator(scenario: str, batch: int, budget_s: float) -> float:
    sim = BatchedSimulator(load_scenario(scenario), batch)
    sim.reset(np.arange(batch))
    rng = np.random.default_rng(0)
    actions = rng.integers(0, sim.action_nvec, size=(16, batch, 4))
    counter = iter(range(10**12))

    def step():
        if sim.done.all():
            sim.reset(rng.integers(0, 2**31, size=batch))
        sim.step(actions[next(counter) % 16])

    calls, elapsed = _timed(step, budget_s)
    return calls * batch / elapsed


def oracle_evaluation(scenario: str, budget_s: float) -> float:
    sim = BatchedSimulator(load_scenario(scenario), 1)
    sim.reset([0])
    calls, elapsed = _timed(sim.evaluate_all, budget_s)
    return elapsed / calls * 1e6


def measure(scenario: str, t: float) -> list[tuple[str, str, float]]:
    """(JSON key, table label, value) of every measurement, in the table's order."""
    rows = [
        (
            "gym_make_steps_per_s",
            "1 env, `gym.make` (wrappers included), steps/s",
            single_env(gym.make(ENV_ID, scenario=scenario), t),
        ),
        (
            "env_direct_steps_per_s",
            "1 env, `CloudEdgeLLMEnv` directly, steps/s",
            single_env(CloudEdgeLLMEnv(scenario), t),
        ),
    ]
    for batch in (16, 256, 1024):
        rows.append(
            (
                f"vector_env_{batch}_env_steps_per_s",
                f"vector env, {batch} envs, env-steps/s",
                vector_env(scenario, batch, t),
            )
        )
    for batch in (1, 1024, 4096):
        rows.append(
            (
                f"batched_simulator_{batch}_task_steps_per_s",
                f"`BatchedSimulator`, batch {batch}, task-steps/s",
                bare_simulator(scenario, batch, t),
            )
        )
    rows.append(
        (
            "oracle_evaluate_all_us_per_call",
            "oracle: `evaluate_all` (240 actions), batch 1, µs per call",
            oracle_evaluation(scenario, t),
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="budget per measurement")
    parser.add_argument("--scenario", default="paper")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (a key per row), no table"
    )
    args = parser.parse_args()
    if not args.seconds > 0:
        parser.exit(2, f"--seconds: must be > 0, got {args.seconds}\n")
    try:
        load_scenario(args.scenario)
    except ValueError as error:
        parser.exit(2, f"{error}\n")
    t = args.seconds
    rows = measure(args.scenario, t)
    if args.json:
        print(json.dumps({key: value for key, _, value in rows}))
        return
    print(
        f"Scenario `{args.scenario}`, {t:g} s per measurement, {datetime.date.today()}, "
        f"{_cpu()} ({os.cpu_count()} cores), Python {platform.python_version()}, "
        f"NumPy {np.__version__}, aif-offload {aif_offload.__version__}\n"
    )
    print("| measurement | value |\n|---|---|")
    for _, label, value in rows:
        print(f"| {label} | {value:,.0f} |")


if __name__ == "__main__":
    main()
