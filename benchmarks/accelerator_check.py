"""The JAX simulator core on JAX's default device (a GPU where ``.[cuda]`` is installed), checked
against the CPU and timed.

For each scenario: one batch of episodes with fixed keys and fixed random actions runs as one
``lax.scan`` rollout on the default device and on the CPU; the per-task latencies and outcomes must
agree (float32; tolerance 1e-4 s relative) or the script exits 1. Then the rollout's task-steps/s at
each batch size on the default device. On a machine without an accelerator both runs are the CPU:
the check then only shows that the script runs.

Run ``python benchmarks/accelerator_check.py [--scenarios paper,paper-hidden] [--batches
1024,16384]``; ``JAX_PLATFORMS=cuda`` makes a missing GPU an error instead of a silent CPU run.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from aif_offload.envs.functional import EnvParams, FunctionalEnv
from aif_offload.scenarios import load_scenario


def _rollout_inputs(env: FunctionalEnv, batch: int):
    keys = jax.random.split(jax.random.key(0), batch)
    params = EnvParams(
        t_max_s=jnp.full(batch, env.scenario.episode.t_max_s),
        world_key=jax.random.split(jax.random.key(1), batch),
    )
    _, state = jax.vmap(env.reset)(keys, params)
    core = env.core
    actions = jax.random.randint(
        jax.random.key(2), (core.num_tasks, batch, 4), 0, jnp.array(core.action_nvec)
    )
    return state, actions, params


def rollout_on(device, env: FunctionalEnv, batch: int):
    """Latencies and completion flags (tasks x batch) of one scanned batch of episodes."""
    with jax.default_device(device):
        state, actions, params = _rollout_inputs(env, batch)
        rollout = jax.jit(jax.vmap(env.core.rollout, in_axes=(0, 0, 1, 0)))
        _, out = rollout(state.episode, state.sim, actions, params.t_max_s)
        return (
            np.asarray(out.latency_s),
            np.asarray(out.completed),
            rollout,
            (state, actions, params),
        )


def throughput(rollout, inputs, budget_s: float = 2.0) -> float:
    state, actions, params = inputs
    run = lambda: jax.block_until_ready(  # noqa: E731
        rollout(state.episode, state.sim, actions, params.t_max_s)
    )
    run()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < budget_s:
        run()
        calls += 1
    return calls * actions.shape[0] * actions.shape[1] / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", default="paper,paper-hidden")
    parser.add_argument("--batches", default="1024,16384")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    device, cpu = jax.devices()[0], jax.devices("cpu")[0]
    print(
        f"# accelerator check, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, JAX "
        f"{jax.__version__}, default device {device.platform}:{device.device_kind}\n"
    )
    print("| scenario | batch | agrees with CPU | max abs latency diff (s) | task-steps/s |")
    print("|---|---|---|---|---|")
    agreed = True
    for name in args.scenarios.split(","):
        env = FunctionalEnv(load_scenario(name))
        for batch in (int(b) for b in args.batches.split(",")):
            lat, done, rollout, inputs = rollout_on(device, env, batch)
            lat_cpu, done_cpu, *_ = rollout_on(cpu, env, batch)
            finite = np.isfinite(lat_cpu)
            diff = float(np.max(np.abs(lat[finite] - lat_cpu[finite]), initial=0.0))
            same = bool(
                np.array_equal(done, done_cpu)
                and np.array_equal(finite, np.isfinite(lat))
                and np.allclose(lat[finite], lat_cpu[finite], rtol=1e-4, atol=1e-4)
            )
            agreed &= same
            rate = throughput(rollout, inputs, args.seconds)
            print(f"| {name} | {batch} | {'yes' if same else 'NO'} | {diff:.2e} | {rate:,.0f} |")
    return 0 if agreed else 1


if __name__ == "__main__":
    sys.exit(main())
