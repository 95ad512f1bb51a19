"""Speed of ``aif-pyro`` (and ``aif-ensemble``): decision latency, belief update, refit per episode.

For each batch size it plays one training episode of the scenario (the first SVI refit pays the
``JitTrace_ELBO`` compile), then a second one, and reports:

1. decision latency: wall time of ``act`` (filter update + CEM planning with the default
   ``CemConfig``) per call and per row (a call decides for every row of the batch);
2. belief update: ``LoadFilter.update`` + ``predict`` per step (batched);
3. refit: ``end_episode`` time per row, first episode and second (for ``aif-pyro`` the first SVI
   refit pays the ``JitTrace_ELBO`` compile; for ``aif-ensemble`` it is the ensemble's training).

Run ``python benchmarks/aif_pyro_speed.py [--agent aif-pyro] [--batch 1 10] [--scenario paper]``; it prints a
Markdown table with the machine and the date for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np

from aif_offload.agents import EnvContext, Transition
from aif_offload.agents.aif_ensemble import AifEnsembleAgent
from aif_offload.agents.aif_pyro import AifPyroAgent
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.inference.filtering import LoadFilter
from aif_offload.scenarios import load_scenario


def _episode(agent, env, observation):
    act_s, steps = [], 0
    agent.begin_episode()
    while True:
        start = time.perf_counter()
        action = agent.act(observation)
        act_s.append(time.perf_counter() - start)
        next_observation, reward, terminated, truncated, info = env.step(action)
        final = info.get("final_obs", next_observation)
        agent.observe(Transition(observation, action, reward, final, terminated, truncated, info))
        observation = next_observation
        steps += 1
        if truncated.all():
            break
    start = time.perf_counter()
    agent.end_episode()
    return observation, np.array(act_s), time.perf_counter() - start


def _filter_step_us(batch: int, servers: int, repeats: int = 2000) -> float:
    kf = LoadFilter(batch, servers)
    report = np.full((batch, servers), 0.3)
    control = np.zeros((batch, servers))
    start = time.perf_counter()
    for _ in range(repeats):
        kf.update(report)
        kf.predict(control)
    return (time.perf_counter() - start) / repeats * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--scenario", default="paper")
    parser.add_argument("--agent", choices=["aif-pyro", "aif-ensemble"], default="aif-pyro")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    print(
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()},"
        f" {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, scenario {args.scenario},"
        f" agent {args.agent}\n"
    )
    print(
        "| batch | act per call (ms, median / p95) | act per row (ms) | belief update per step (us) "
        "| SVI refit per row, 1st episode (s) | SVI refit per row, 2nd episode (s) |"
    )
    print("|---|---|---|---|---|---|")
    for batch in args.batch:
        env = CloudEdgeLLMVectorEnv(batch, scenario)
        context = EnvContext(
            scenario=env.scenario,
            action_nvec=env.core.sim.action_nvec,
            layout=env.core.layout,
            batch_size=batch,
        )
        agent_class = AifPyroAgent if args.agent == "aif-pyro" else AifEnsembleAgent
        agent = agent_class(context, seeds=list(range(batch)))
        observation, _ = env.reset(seed=list(range(batch)))
        observation, _, first_refit = _episode(agent, env, observation)
        observation, act_s, second_refit = _episode(agent, env, observation)
        ms = 1000 * act_s
        print(
            f"| {batch} | {np.median(ms):.1f} / {np.percentile(ms, 95):.1f} | {np.median(ms) / batch:.1f} "
            f"| {_filter_step_us(batch, context.layout.num_servers):.0f} "
            f"| {first_refit / batch:.2f} | {second_refit / batch:.2f} |"
        )


if __name__ == "__main__":
    main()
