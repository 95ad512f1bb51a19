"""Scores of the discrete agent's load beliefs against the simulator's true load level.

Reads every ``runs/<agent>/.../seed=<s>.beliefs.nc`` of an experiment directory that holds
``posterior/q_load`` (seed, episode, step, server, level) and ``constant_data/true_load_level``,
and prints, per agent and episode phase, the Brier score, log score and entropy of the beliefs next
to two naive beliefs: uniform over the levels, and the base rate of the true levels in that file
(a belief that knows how often each level occurs but nothing about the moment).

Run ``python -m aif_offload.analysis.belief_scores DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

from aif_offload.diagnostics.calibration import brier_score, entropy, log_score


def scores(path: Path) -> dict[str, float] | None:
    try:
        q = xr.open_dataset(path, group="posterior", engine="h5netcdf")["q_load"].load()
        truth = xr.open_dataset(path, group="constant_data", engine="h5netcdf")[
            "true_load_level"
        ].load()
    except (OSError, KeyError):
        return None
    p = q.transpose(..., "level").values
    level = truth.values
    known = np.isfinite(level)
    p, level = p[known], level[known].astype(int)
    levels = p.shape[-1]
    base_rate = np.bincount(level, minlength=levels) / level.size
    return {
        "brier": float(brier_score(p, level).mean()),
        "brier_uniform": float(brier_score(np.full(levels, 1 / levels), level).mean()),
        "brier_base_rate": float(brier_score(base_rate, level).mean()),
        "log_score": float(log_score(p, level).mean()),
        "entropy": float(entropy(p).mean()),
        "steps": float(level.size),
    }


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
