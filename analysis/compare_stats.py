"""Comparison statistics from a saved ``results.nc`` (reads the file only, never re-runs agents).

Per agent: mean and interquartile mean of a metric over seeds with 95 % bootstrap intervals
(evaluation episodes if the file has them, else training episodes), episodes to 95 % of the final
training level, and the probability of improvement of each ``--candidates`` agent over every
other agent, with a stratified bootstrap interval.

Run ``python -m aif_offload.analysis.compare_stats DIR/results.nc --candidates aif-pymdp``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

from aif_offload.diagnostics import comparison
from aif_offload.diagnostics.statistics import (
    bootstrap_ci,
    episodes_to_fraction_of_final,
    probability_of_improvement_ci,
)


def per_seed(data: xr.Dataset, metric: str, agent: str) -> np.ndarray:
    """One value per seed: the mean over evaluation episodes if any, else training episodes."""
    return comparison.per_seed(data, metric).sel(agent=agent).values.ravel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--metric", default="completion_rate")
    parser.add_argument(
        "--candidates", default="", help="comma-separated agents to test against the rest"
    )
    args = parser.parse_args(argv)
    with xr.open_dataset(args.results, engine="h5netcdf") as data:
        data = data.load()
    if any(d in data.dims for d in ("t_max_s", "load_percent")):
        raise SystemExit("this script reads comparisons without a sweep; select one value first")
    agents = [str(a) for a in data.agent.values]
    print(f"{args.metric}: mean and IQM over {data.sizes['seed']} seeds, 95 % bootstrap CI\n")
    print(
        "| agent | mean | IQM | episodes to 95 % of final (median over seeds) |\n|---|---|---|---|"
    )
    for agent in agents:
        values = per_seed(data, args.metric, agent)
        curves = data[args.metric].sel(agent=agent).values
        reach = [episodes_to_fraction_of_final(c) for c in curves]
        reached = [r for r in reach if r is not None]
        median = f"{np.median(reached):g}" if reached else "never"
        print(f"| {agent} | {bootstrap_ci(values)} | {bootstrap_ci(values, 'iqm')} | {median} |")
    for candidate in filter(None, args.candidates.split(",")):
        print(
            f"\nProbability that {candidate} beats each agent on a random seed (P(X > Y) + P(X = Y) / 2):\n"
        )
        print("| versus | P(improvement) [95 % CI] |\n|---|---|")
        mine = per_seed(data, args.metric, candidate)
        for other in agents:
            if other != candidate:
                print(
                    f"| {other} | {probability_of_improvement_ci(mine, per_seed(data, args.metric, other))} |"
                )


if __name__ == "__main__":
    main()
