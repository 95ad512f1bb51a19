"""Speed of ``gp-nfsp``: wall and CPU time of a training episode, split into acting and updates.

For each batch size it plays ``--episodes`` training episodes of the scenario (one independent
learner per terminal and row) and reports medians per episode: the whole episode (environment
included), the agent's ``act`` + ``observe``, the environment's steps, and ``end_episode`` (the PPO
and supervised updates). CPU time is reported next to wall time because the machine is shared.

Run ``python benchmarks/gp_nfsp_speed.py [--batch 1 10] [--episodes 6] [--scenario paper]``; it
prints a Markdown table with the machine and the date for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np
import torch

from aif_offload.agents import EnvContext, Transition
from aif_offload.agents.gp_nfsp import GpNfspAgent
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.scenarios import load_scenario


def _clocks() -> np.ndarray:
    return np.array([time.perf_counter(), time.process_time()])


def _episode(agent, env, observation) -> tuple[np.ndarray, np.ndarray]:
    """Returns the next observation and (wall, cpu) seconds of: episode, agent, env, updates."""
    spent = np.zeros((4, 2))
    start = _clocks()
    agent.begin_episode()
    while True:
        t = _clocks()
        agent.set_terminals(env.current_terminals())
        action = agent.act(observation)
        spent[1] += _clocks() - t
        t = _clocks()
        next_observation, reward, terminated, truncated, info = env.step(action)
        spent[2] += _clocks() - t
        t = _clocks()
        final = info.get("final_obs", next_observation)
        agent.observe(Transition(observation, action, reward, final, terminated, truncated, info))
        spent[1] += _clocks() - t
        observation = next_observation
        if truncated.all():
            break
    t = _clocks()
    agent.end_episode()
    spent[3] = _clocks() - t
    spent[0] = _clocks() - start
    return observation, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--scenario", default="paper")
    args = parser.parse_args()
    torch.set_num_threads(1)
    scenario = load_scenario(args.scenario)
    print(
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}, scenario {args.scenario}, torch {torch.__version__}\n"
    )
    print(
        "| batch | episode, wall / CPU (s) | act + observe (s) | environment (s) "
        "| updates (s) | episode per row, wall (s) |"
    )
    print("|---|---|---|---|---|---|")
    for batch in args.batch:
        env = CloudEdgeLLMVectorEnv(batch, scenario)
        context = EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, batch)
        agent = GpNfspAgent(context, seeds=list(range(batch)))
        observation, _ = env.reset(seed=list(range(batch)))
        runs = []
        for _ in range(args.episodes):
            observation, spent = _episode(agent, env, observation)
            runs.append(spent)
        wall, cpu = np.median(np.stack(runs), axis=0).T
        print(
            f"| {batch} | {wall[0]:.2f} / {cpu[0]:.2f} | {wall[1]:.2f} | {wall[2]:.2f} "
            f"| {wall[3]:.2f} | {wall[0] / batch:.2f} |"
        )


if __name__ == "__main__":
    main()
