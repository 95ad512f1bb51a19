"""The headline table of a results directory, in Markdown (for docs/results.md and notes).

Per agent: held-out evaluation means of completion, latency, pass@100 and sum reward with 95 %
bootstrap intervals over seeds, the completion at the end of training (mean of the last 10
training episodes) and the episodes to 95 % of the final training completion (median over seeds).
Runs that are not finished yet are read straight from ``runs/`` and counted in the ``seeds``
column, so a table can be made while an experiment is still going (``results.nc`` is assembled only
when every run is there).

Run ``python -m aif_offload.analysis.results_table DIR``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from aif_offload.diagnostics.statistics import bootstrap_ci, episodes_to_fraction_of_final

METRICS = {
    "completion_rate": "completion",
    "mean_latency_s": "latency (s)",
    "mean_accuracy": "pass@100",
    "sum_reward": "sum reward",
}


def _runs(directory: Path, agent: str) -> list[dict[str, np.ndarray]]:
    runs = []
    for path in sorted((directory / "runs" / agent).glob("seed=*.npz")):
        with np.load(path) as archive:
            runs.append({key: archive[key] for key in archive.files})
    return runs


def table(directory: Path) -> str:
    spec = json.loads((directory / "experiment.json").read_text())
    agents = sorted(
        (p.name for p in (directory / "runs").iterdir() if p.is_dir()),
        key=lambda a: (a not in spec["agents"], a),
    )
    header = ["agent", "seeds", *(f"held-out {v}" for v in METRICS.values())]
    header += ["completion, last 10 training episodes", "episodes to 95 % (median)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for agent in agents:
        runs = _runs(directory, agent)
        if not runs:
            continue
        cells = [f"`{agent}`", str(len(runs))]
        for metric in METRICS:
            values = np.array([np.nanmean(r[f"eval/{metric}"]) for r in runs])
            cells.append(str(bootstrap_ci(values)))
        curves = [r["train/completion_rate"] for r in runs]
        cells.append(str(bootstrap_ci(np.array([np.nanmean(c[-10:]) for c in curves]))))
        reached = [episodes_to_fraction_of_final(c) for c in curves]
        known = [r for r in reached if r is not None]
        median = f"{np.median(known):g}" if known else "never"
        cells.append(
            median + (f" ({len(reached) - len(known)} never)" if len(known) < len(reached) else "")
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    if not (args.directory / "experiment.json").exists():
        raise SystemExit(f"aif-offload: error: '{args.directory}' holds no experiment.json")
    print(table(args.directory))


if __name__ == "__main__":
    main()
