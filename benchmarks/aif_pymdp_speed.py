"""Speed of the ``aif-pymdp`` agent: the jitted perceive-learn-plan-act step and whole episodes.

Measures, on the ``paper`` offloading POMDP with the agent's default configuration (online A and B
learning, 5 policies: one per server):

1. compile time of the jitted step (first call) at batch 1;
2. decision latency of the jitted step at batch 1 (median over calls, ``block_until_ready``);
3. decisions per second batched (batch x calls / time) at several batch sizes;
4. wall time of one 100-task episode through the vector environment, agent included (compile
   excluded: a warm-up episode runs first), at batch 1 and batch 10.

Run ``python benchmarks/aif_pymdp_speed.py [--calls 200] [--batches 1,16,64,256]``; it prints a
Markdown table with the machine and the date for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from functools import partial

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from aif_offload.models.offloading_pomdp import model_for_scenario

from aif_offload.agents import EnvContext, Transition
from aif_offload.agents.aif_pymdp import AifPymdpAgent, agent_config, decision_step
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.pomdp import make_agent
from aif_offload.scenarios import load_scenario


def _inputs(spec, batch: int):
    config = agent_config(batch)
    agent = make_agent(spec, config)
    obs = [jnp.zeros(batch, jnp.int32) for _ in spec.modalities]
    action = jnp.zeros((batch, len(spec.factors)), jnp.int32)
    keys = jnp.stack([jr.PRNGKey(i) for i in range(batch)])
    return agent, obs, action, keys


def step_timing(spec, batch: int, calls: int, with_utility: bool) -> tuple[float, float]:
    """(compile seconds, median seconds per call) of the jitted step at ``batch`` (learning on;
    ``with_utility``: also the EFE's utility part, which the agent computes only when it records
    its beliefs)."""
    agent, obs, action, keys = _inputs(spec, batch)
    lr = jnp.float32(1.0)
    step = partial(decision_step, with_utility=with_utility)
    start = time.perf_counter()
    agent, out = step(agent, obs, agent.D, agent.D, action, keys, lr)
    jax.block_until_ready(out)
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        agent, out = step(agent, obs, out["prior_next"], out["qs"], out["action"], out["keys"], lr)
        jax.block_until_ready(out)
        times.append(time.perf_counter() - start)
    return compile_s, float(np.median(times))


def episode_wall(batch: int) -> float:
    """Seconds for one episode (agent + environment), after a warm-up episode."""
    env = CloudEdgeLLMVectorEnv(batch, "paper")
    context = EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, batch)
    agent = AifPymdpAgent(context, seeds=list(range(batch)), record=False)
    obs, _ = env.reset(seed=list(range(batch)))
    walls = []
    for _ in range(2):
        start = time.perf_counter()
        agent.begin_episode()
        while True:
            action = agent.act(obs)
            nxt, reward, term, trunc, info = env.step(action)
            agent.observe(
                Transition(obs, action, reward, info.get("final_obs", nxt), term, trunc, info)
            )
            obs = nxt
            if trunc.all():
                break
        agent.end_episode()
        walls.append(time.perf_counter() - start)
    return walls[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="timed calls per batch size")
    parser.add_argument("--batches", default="1,16,64,256", help="batch sizes, comma-separated")
    args = parser.parse_args()
    spec = model_for_scenario(load_scenario("paper"))
    print(
        f"aif-pymdp speed, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}, jax {jax.__version__} ({jax.default_backend()})\n"
    )
    print("| measure | batch | value |\n|---|---|---|")
    for batch in (int(b) for b in args.batches.split(",")):
        for with_utility, what in ((False, ""), (True, ", recording beliefs")):
            compile_s, per_call = step_timing(spec, batch, args.calls, with_utility)
            print(f"| compile time of the jitted step{what} | {batch} | {compile_s:.1f} s |")
            print(
                f"| decision latency (median per step){what} | {batch} | {per_call * 1e3:.3f} ms |"
            )
            print(f"| decisions per second{what} | {batch} | {batch / per_call:,.0f} |", flush=True)
    for batch in (1, 10):
        print(
            f"| episode wall time (100 tasks, env included) | {batch} | "
            f"{episode_wall(batch):.2f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
