"""Training speed of the deep-RL baselines: environment steps per second while learning.

Each agent trains on one seed of the scenario for ``--episodes`` episodes through the runner (the
same code path as ``aif-offload compare``), torch single-threaded as the agents set it. The time
includes building the model and every gradient update; it excludes evaluation. Before timing,
every agent trains one untimed episode, so that importing torch and the RL libraries is not
charged to the first agent of the list.

Agents are names as on the command line, variants included: ``ppo@envs=1`` is PPO collecting with
one environment, as it did before it collected with five, so ``--agents ppo@envs=1,ppo`` measures
the two layouts side by side. With ``--repeat N`` the list runs N times over, interleaved (so a
change in the machine's load hits every agent alike), and the table gives the median.

Run ``python benchmarks/drl_speed.py [--agents ppo,dqn,...] [--episodes 20] [--repeat 1]``; it
prints a Markdown table with the machine, its load and the date for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

from aif_offload.agents import agent_class, agent_info, agent_names
from aif_offload.agents.base import DEEP_RL
from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario

# The JAX agents compile their trainer per configuration and train seeds together: their speed is
# measured by benchmarks/jax_drl_speed.py.
DRL_AGENTS = ",".join(
    n for n in agent_names() if agent_info(n).family == DEEP_RL and not n.endswith("-jax")
)


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default=DRL_AGENTS, help="comma-separated agent names")
    parser.add_argument("--episodes", type=int, default=20, help="timed training episodes")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per agent (median)")
    parser.add_argument("--scenario", default="paper")
    args = parser.parse_args()
    names = [name for name in args.agents.split(",") if name]
    for option, value in (("--episodes", args.episodes), ("--repeat", args.repeat)):
        if value < 1:
            parser.exit(2, f"{option}: must be >= 1, got {value}\n")
    try:
        for name in names:
            agent_class(name)
        scenario = load_scenario(args.scenario)
    except ValueError as error:
        parser.exit(2, f"{error}\n")
    steps = args.episodes * scenario.episode.num_tasks
    started = datetime.datetime.now(datetime.UTC)
    load_before = _load()
    for name in names:  # warm-up: imports, first model builds
        run_agent(name, scenario, [0], 1)
    walls: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.repeat):
        for name in names:
            start = time.perf_counter()
            run_agent(name, scenario, [0], args.episodes)
            walls[name].append(time.perf_counter() - start)
    print(
        f"{started:%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average (1, 5, 15 min) {load_before} before and "
        f"{_load()} after; {args.episodes} episodes ({steps} env steps), one seed, "
        f"median of {args.repeat}\n"
    )
    print("| agent | training wall time (s) | env steps/s | runs (s) |")
    print("|---|---|---|---|")
    for name, times in walls.items():
        wall = statistics.median(times)
        runs = ", ".join(f"{t:.1f}" for t in times)
        print(f"| `{name}` | {wall:.1f} | {steps / wall:,.0f} | {runs} |")


if __name__ == "__main__":
    main()
