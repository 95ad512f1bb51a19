"""``results.nc``: the fixed result format (dims agent, seed, episode), provenance, atomic writes."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from aif_offload import __version__
from aif_offload.experiment.metrics import METRIC_DOCS
from aif_offload.experiment.runner import RunResult
from aif_offload.sim.outcome import FAILURE_REASONS
from aif_offload.sim.scenario import Scenario

RESULTS_FILE = "results.nc"


def git_commit() -> str:
    """The commit of the checkout this package runs from, or 'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def provenance(scenario: Scenario, agents: dict[str, Any], command: str) -> dict[str, str]:
    """Attributes every saved result carries."""
    return {
        "package": "aif-offload",
        "package_version": __version__,
        "git_commit": git_commit(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "scenario_name": scenario.name,
        "scenario_json": scenario.model_dump_json(),
        "agents_json": json.dumps(agents, sort_keys=True),
    }


def _describe(key: str) -> str:
    if key == "env_steps":
        return "cumulative environment steps at the episode's end"
    return METRIC_DOCS.get(key, "statistic reported by the agent (NaN for agents without it)")


def to_dataset(runs: list[RunResult], attrs: dict[str, str]) -> xr.Dataset:
    """Stack runs into a Dataset with dims (agent, seed, episode); missing runs are NaN."""
    agents = list(dict.fromkeys(r.agent for r in runs))
    seeds = sorted({r.seed for r in runs})
    episodes = max(r.env_steps.size for r in runs)
    shape = (len(agents), len(seeds), episodes)
    extra = sorted({k for r in runs for k in r.metrics} - set(METRIC_DOCS) - {"failures"})
    data: dict[str, np.ndarray] = {k: np.full(shape, np.nan) for k in (*METRIC_DOCS, *extra)}
    data["env_steps"] = np.full(shape, np.nan)
    failures = np.full((*shape, len(FAILURE_REASONS)), np.nan)
    for run in runs:
        i, j, n = agents.index(run.agent), seeds.index(run.seed), run.env_steps.size
        for key in (*METRIC_DOCS, *extra):
            if key in run.metrics:
                data[key][i, j, :n] = run.metrics[key]
        data["env_steps"][i, j, :n] = run.env_steps
        failures[i, j, :n] = run.metrics["failures"]
    dims = ("agent", "seed", "episode")
    variables = {
        key: xr.Variable(
            dims,
            value,
            attrs={
                "description": METRIC_DOCS.get(
                    key, "cumulative environment steps at the episode's end"
                )
            },
        )
        for key, value in data.items()
    }
    variables["failure_count"] = xr.Variable(
        (*dims, "failure_reason"), failures, attrs={"description": "tasks per outcome reason"}
    )
    coords = {
        "agent": agents,
        "seed": np.asarray(seeds, dtype=np.int64),
        "episode": np.arange(episodes),
        "failure_reason": list(FAILURE_REASONS),
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def check_writable(directory: Path) -> None:
    """Fail early, before any long run, if results cannot be written to ``directory``."""
    directory = Path(directory)
    probe_parent = directory
    while not probe_parent.exists():
        probe_parent = probe_parent.parent
    if not probe_parent.is_dir():
        raise ValueError(f"--out: '{probe_parent}' exists and is not a directory")
    if not os.access(probe_parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out: cannot write to '{probe_parent}'")
