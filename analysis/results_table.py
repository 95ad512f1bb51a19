"""The headline table of a results directory, in Markdown (for docs/results.md and notes).

Per agent: held-out evaluation means of completion, latency, pass@100 and sum reward with 95 %
bootstrap intervals over seeds, the completion at the start and the end of training (means of
the first 5 and the last 10 training episodes: a learner's curve rises between them) and the
episodes to 95 % of the final training completion (median over seeds).
Runs that are not finished yet are read straight from ``runs/`` and counted in the ``seeds``
column, so a table can be made while an experiment is still going (``results.nc`` is assembled only
when every run is there). A sweep (deadline, load) gets a row per agent and swept value.

Run ``python -m aif_offload.analysis.results_table DIR``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from aif_offload.diagnostics.statistics import bootstrap_ci, episodes_to_fraction_of_final
from aif_offload.experiment.spec import sweep_dim

METRICS = {
    "completion_rate": "completion",
    "mean_latency_s": "latency (s)",
    "mean_accuracy": "pass@100",
    "sum_reward": "sum reward",
}


def _runs(folder: Path) -> list[dict[str, np.ndarray]]:
    runs = []
    for path in sorted(folder.glob("seed=*.npz")):
        with np.load(path) as archive:
            runs.append({key: archive[key] for key in archive.files})
    return runs


def _value_folders(agent_folder: Path, sweep: str | None) -> list[tuple[str, Path]]:
    """(swept value, folder of its runs), ordered by value; ("", the agent's folder) if no sweep."""
    if sweep is None:
        return [("", agent_folder)]
    folders = [p for p in agent_folder.iterdir() if p.is_dir() and p.name.startswith(f"{sweep}=")]
    pairs = [(p.name.partition("=")[2], p) for p in folders]
    return sorted(pairs, key=lambda pair: float(pair[0]))


def table(directory: Path) -> str:
    spec = json.loads((directory / "experiment.json").read_text())
    agents = sorted(
        (p.name for p in (directory / "runs").iterdir() if p.is_dir()),
        key=lambda a: (a not in spec["agents"], a),
    )
    sweep = sweep_dim(spec.get("sweep"))  # run folders are named by the field's last segment
    header = ["agent", *([sweep] if sweep else []), "seeds"]
    header += [f"held-out {v}" for v in METRICS.values()]
    header += [
        "completion, first 5 training episodes",
        "completion, last 10 training episodes",
        "episodes to 95 % (median)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = [
        (agent, value, folder)
        for agent in agents
        for value, folder in _value_folders(directory / "runs" / agent, sweep)
    ]
    for agent, value, folder in rows:
        runs = _runs(folder)
        if not runs:
            continue
        cells = [f"`{agent}`", *([value] if sweep else []), str(len(runs))]
        for metric in METRICS:
            values = np.array([np.nanmean(r[f"eval/{metric}"]) for r in runs])
            cells.append(str(bootstrap_ci(values)))
        curves = [r["train/completion_rate"] for r in runs]
        cells.append(str(bootstrap_ci(np.array([np.nanmean(c[:5]) for c in curves]))))
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
