"""Throughput of the JAX simulator core beside the NumPy ``BatchedSimulator``, in one run.

Task-steps per second (one task dispatched in one environment), random valid actions drawn in
advance, after compilation and a warm-up, for a fixed wall-clock budget each:

1. the NumPy ``BatchedSimulator`` (resets included);
2. the jitted, vmapped JAX step called from Python once per step (no resets);
3. whole episodes of the JAX step under ``lax.scan`` (one call per episode batch, no resets);
4. the functional env's ``batch_step`` (observation, info and auto-reset included) under
   ``lax.scan`` over an episode.

Run ``python benchmarks/jax_sim_throughput.py [--seconds 3] [--scenario paper]``; it prints a
Markdown table (JAX's default float32) with the machine, the compile times and the date.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from sim_throughput import bare_simulator  # the NumPy reference, measured as that script does

from aif_offload.envs.functional import EnvParams, FunctionalEnv, batch_step
from aif_offload.scenarios import load_scenario
from aif_offload.sim.jax_core import JaxCore


def _timed(call, budget_s: float) -> tuple[int, float]:
    call()
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < budget_s:
        call()
        calls += 1
    return calls, elapsed


def _episodes(env: FunctionalEnv, batch: int):
    keys = jax.random.split(jax.random.key(0), batch)
    params = EnvParams(
        t_max_s=jnp.full(batch, env.scenario.episode.t_max_s),
        world_key=jax.random.split(jax.random.key(1), batch),
    )
    _, state = jax.jit(jax.vmap(env.reset))(keys, params)
    return state, params


def jax_step(env: FunctionalEnv, batch: int, budget_s: float) -> tuple[float, float, float]:
    """(per-step calls, scanned episodes) task-steps/s and the step's compile time."""
    core: JaxCore = env.core
    state, params = _episodes(env, batch)
    n = core.num_tasks
    actions = jax.random.randint(jax.random.key(2), (n, batch, 4), 0, jnp.array(core.action_nvec))
    step = jax.jit(jax.vmap(core.step))
    start = time.perf_counter()
    jax.block_until_ready(step(state.episode, state.sim, actions[0], params.t_max_s))
    compile_s = time.perf_counter() - start
    box = {"sim": state.sim, "k": 0}

    def one():
        k = box["k"]
        sim, out = step(state.episode, box["sim"], actions[k], params.t_max_s)
        box["sim"], box["k"] = (sim, k + 1) if k + 1 < n else (state.sim, 0)
        jax.block_until_ready(out.latency_s)

    calls, elapsed = _timed(one, budget_s)
    per_step = calls * batch / elapsed
    rollout = jax.jit(jax.vmap(core.rollout, in_axes=(0, 0, 1, 0)))

    def episode():
        jax.block_until_ready(rollout(state.episode, state.sim, actions, params.t_max_s))

    calls, elapsed = _timed(episode, budget_s)
    return per_step, calls * batch * n / elapsed, compile_s


def env_scan(env: FunctionalEnv, batch: int, budget_s: float) -> float:
    state, params = _episodes(env, batch)
    n = env.core.num_tasks

    @jax.jit
    def episode(state, key):
        def body(carry, k):
            state, key = carry
            key, k_act, k_step = jax.random.split(key, 3)
            action = jax.random.randint(k_act, (batch,), 0, env.num_actions)
            keys = jax.random.split(k_step, batch)
            _, state, reward, _, _ = batch_step(env, keys, state, action, params)
            return (state, key), reward

        (state, key), rewards = jax.lax.scan(body, (state, key), jnp.arange(n))
        return state, key, rewards.sum()

    box = {"state": state, "key": jax.random.key(3)}

    def one():
        box["state"], box["key"], total = episode(box["state"], box["key"])
        jax.block_until_ready(total)

    calls, elapsed = _timed(one, budget_s)
    return calls * batch * n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="budget per measurement")
    parser.add_argument("--scenario", default="paper")
    parser.add_argument(
        "--batches", default="1,64,1024", help="comma-separated batch sizes (default 1,64,1024)"
    )
    args = parser.parse_args()
    try:
        batches = [int(b) for b in args.batches.split(",")]
        if any(b < 1 for b in batches):
            raise ValueError
    except ValueError:
        parser.error("--batches: comma-separated integers >= 1, e.g. 1,64,1024")
    scenario = load_scenario(args.scenario)
    env = FunctionalEnv(scenario)
    t = args.seconds
    rows = []
    for batch in batches:
        numpy_rate = bare_simulator(args.scenario, batch, t)
        per_step, scanned, compile_s = jax_step(env, batch, t)
        env_rate = env_scan(env, batch, t)
        rows.append((batch, numpy_rate, per_step, scanned, env_rate, compile_s))
    print(
        f"Scenario `{args.scenario}`, {t:g} s per measurement, {datetime.date.today()}, "
        f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores), "
        f"load average {os.getloadavg()[0]:.2f}, JAX {jax.__version__} "
        f"({jax.default_backend()}, float32), NumPy {np.__version__}\n"
    )
    print(
        "| batch | NumPy `BatchedSimulator` | JAX step, one call per step | JAX episode under "
        "`lax.scan` | functional env `batch_step` under `lax.scan` | JAX / NumPy (scan) | "
        "step compile (s) |\n|---|---|---|---|---|---|---|"
    )
    for batch, numpy_rate, per_step, scanned, env_rate, compile_s in rows:
        print(
            f"| {batch} | {numpy_rate:,.0f} | {per_step:,.0f} | {scanned:,.0f} | "
            f"{env_rate:,.0f} | {scanned / numpy_rate:.1f}x | {compile_s:.1f} |"
        )
    print("\n(task-steps per second: one task dispatched in one environment)")


if __name__ == "__main__":
    main()
