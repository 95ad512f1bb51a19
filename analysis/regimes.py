"""The paper's deadline regimes, checked on the simulator: completion against t_max per agent.

He et al. (2024) report that nothing completes at t_max <= 2 s, that only the cloud is fast enough
for 3-9 s (completion capped near 20 % by the 1 : 4 cloud : edge ratio), and that about 99 % of tasks
complete at t_max = 15 s. This script measures completion (mean and 95 % bootstrap interval over
seeds) for the oracle and the rule baselines at each deadline, and at higher loads.

Run ``python -m aif_offload.analysis.regimes --seeds 10 --episodes 3``.
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.progress import track

from aif_offload.diagnostics.statistics import bootstrap_ci
from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario

DEADLINES = (1, 2, 3, 5, 7, 9, 10, 12, 15)
LOADS = (100, 150, 200)


def completion(agent: str, scenario: str, seeds: list[int], episodes: int, **overrides) -> str:
    runs = run_agent(agent, load_scenario(scenario, **overrides), seeds, episodes)
    return str(bootstrap_ci(np.array([r.metrics["completion_rate"].mean() for r in runs])))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="paper")
    parser.add_argument("--agents", default="oracle,greedy,random")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--episodes", type=int, default=3)
    args = parser.parse_args(argv)
    agents = args.agents.split(",")
    seeds = list(range(args.seeds))
    header = "| | " + " | ".join(agents) + " |\n|---|" + "---|" * len(agents)
    print(
        f"Completion rate on '{args.scenario}', {args.seeds} seeds x {args.episodes} episodes, "
        "mean [95 % bootstrap CI over seeds]\n"
    )
    print(header)
    for t_max in track(DEADLINES, description="deadline sweep", transient=True):
        cells = [completion(a, args.scenario, seeds, args.episodes, t_max_s=t_max) for a in agents]
        print(f"| t_max {t_max} s | " + " | ".join(cells) + " |", flush=True)
    for load in track(LOADS, description="load sweep", transient=True):
        cells = [
            completion(a, args.scenario, seeds, args.episodes, load_percent=load) for a in agents
        ]
        print(f"| load {load} %, t_max 15 s | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
