"""Scores of the discrete agent's load beliefs against the simulator's true load level.

Reads every ``runs/<agent>/.../seed=<s>.beliefs.nc`` of an experiment directory that holds
``filtering/q_load`` (seed, episode, step, server, level) and ``constant_data/true_load_level``,
and prints, per agent and episode phase, the Brier score, log score and entropy of the beliefs next
to two naive beliefs: uniform over the levels, and the base rate of the true levels in that file
(a belief that knows how often each level occurs but nothing about the moment).

Run ``python -m aif_offload.analysis.belief_scores DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aif_offload.diagnostics.beliefs import load_level_summary


def scores(path: Path) -> dict[str, float] | None:
    """File-level Brier, log score and entropy of the load beliefs (None without q_load)."""
    return load_level_summary(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    rows = []
    for path in sorted(args.directory.glob("runs/*/**/*.beliefs.nc")):
        found = scores(path)
        if found is not None:
            rows.append((path.relative_to(args.directory / "runs").parts[0], found))
    if not rows:
        raise SystemExit(f"no belief files with q_load under {args.directory}/runs")
    print(
        "| agent | files | Brier (belief) | Brier (uniform) | Brier (base rate) | log score | entropy |"
    )
    print("|---|---|---|---|---|---|---|")
    for agent in dict.fromkeys(a for a, _ in rows):
        mine = [r for a, r in rows if a == agent]
        mean = {k: np.mean([r[k] for r in mine]) for k in mine[0]}
        print(
            f"| {agent} | {len(mine)} | {mean['brier']:.3f} | {mean['brier_uniform']:.3f} | "
            f"{mean['brier_base_rate']:.3f} | {mean['log_score']:.3f} | {mean['entropy']:.3f} |"
        )


if __name__ == "__main__":
    main()
