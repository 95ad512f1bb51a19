"""Training speed of the deep-RL baselines: environment steps per second while learning.

Each agent trains on one seed of the scenario for ``--episodes`` episodes through the runner (the
same code path as ``aif-offload compare``), torch single-threaded as the agents set it. The time
includes building the model and every gradient update; it excludes evaluation.

Run ``python benchmarks/drl_speed.py [--agents ppo,dqn,...] [--episodes 20]``; it prints a Markdown
table with the machine and the date for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

from aif_offload.agents import agent_info, agent_names
from aif_offload.agents.base import DEEP_RL
from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario

DRL_AGENTS = ",".join(n for n in agent_names() if agent_info(n).family == DEEP_RL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default=DRL_AGENTS)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--scenario", default="paper")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    steps = args.episodes * scenario.episode.num_tasks
    print(
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.episodes} episodes "
        f"({steps} env steps), one seed\n"
    )
    print("| agent | training wall time (s) | env steps/s |")
    print("|---|---|---|")
    for name in args.agents.split(","):
        start = time.perf_counter()
        run_agent(name, scenario, [0], args.episodes)
        wall = time.perf_counter() - start
        print(f"| `{name}` | {wall:.1f} | {steps / wall:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
