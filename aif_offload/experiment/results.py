"""``results.nc``: the fixed result format (dims agent, seed, [sweep,] episode) and its provenance."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from aif_offload import __version__
from aif_offload.envs.episode_metrics import METRIC_DOCS
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
    base = key.removeprefix("eval_")
    if base == "env_steps":
        return "cumulative training environment steps at the episode's end"
    text = METRIC_DOCS.get(base, "statistic reported by the agent (NaN for agents without it)")
    return f"evaluation on held-out workloads: {text}" if key.startswith("eval_") else text


def to_dataset(
    runs: list[RunResult], attrs: dict[str, str], *, sweep: str | None = None
) -> xr.Dataset:
    """Stack runs into dims (agent, seed[, sweep], episode[, eval_episode]); missing are NaN.

    Training metrics have dim ``episode``; evaluation metrics, prefixed ``eval_``, have dim
    ``eval_episode``. With ``sweep`` (``t_max_s`` or ``load_percent``) every run must carry its
    ``value`` and the swept parameter becomes a dimension.
    """
    agents = list(dict.fromkeys(r.agent for r in runs))
    seeds = sorted({r.seed for r in runs})
    values = sorted({r.value for r in runs}) if sweep else [None]
    if sweep and None in values:
        raise ValueError(f"sweep: every run needs a value of '{sweep}'")
    episodes = max(r.env_steps.size for r in runs)
    eval_episodes = max(
        (next(iter(r.eval_metrics.values())).size for r in runs if r.eval_metrics), default=0
    )
    lead = (len(agents), len(seeds), len(values))
    reasons = len(FAILURE_REASONS)

    def keys(attr: str) -> list[str]:
        found = {k for r in runs for k in getattr(r, attr)} - {"failures"}
        return [k for k in METRIC_DOCS if k in found] + sorted(found - set(METRIC_DOCS))

    arrays: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    for key in keys("metrics"):
        arrays[key] = (("episode",), np.full((*lead, episodes), np.nan))
    arrays["env_steps"] = (("episode",), np.full((*lead, episodes), np.nan))
    arrays["failure_count"] = (
        ("episode", "failure_reason"),
        np.full((*lead, episodes, reasons), np.nan),
    )
    if eval_episodes:
        for key in keys("eval_metrics"):
            arrays[f"eval_{key}"] = (("eval_episode",), np.full((*lead, eval_episodes), np.nan))
        arrays["eval_failure_count"] = (
            ("eval_episode", "failure_reason"),
            np.full((*lead, eval_episodes, reasons), np.nan),
        )
    for run in runs:
        at = (agents.index(run.agent), seeds.index(run.seed), values.index(run.value))
        n = run.env_steps.size
        arrays["env_steps"][1][(*at, slice(0, n))] = run.env_steps
        for prefix, source in (("", run.metrics), ("eval_", run.eval_metrics)):
            for key, value in source.items():
                name = f"{prefix}failure_count" if key == "failures" else f"{prefix}{key}"
                arrays[name][1][(*at, slice(0, value.shape[0]))] = value

    lead_dims = ("agent", "seed", sweep) if sweep else ("agent", "seed")
    variables = {}
    for name, (dims, value) in arrays.items():
        if not sweep:
            value = value[:, :, 0]
        desc = "tasks per outcome reason" if name.endswith("failure_count") else _describe(name)
        variables[name] = xr.Variable((*lead_dims, *dims), value, attrs={"description": desc})
    coords: dict[str, Any] = {
        "agent": agents,
        "seed": np.asarray(seeds, dtype=np.int64),
        "episode": np.arange(episodes),
        "failure_reason": list(FAILURE_REASONS),
    }
    if sweep:
        coords[sweep] = np.asarray(values, dtype=float)
    if eval_episodes:
        coords["eval_episode"] = np.arange(eval_episodes)
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
    # Permission bits do not tell (root, /proc, read-only mounts): create and remove a directory.
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".aif-offload-probe-", dir=probe_parent))
    except OSError as err:
        raise ValueError(
            f"--out: cannot create '{directory}' in '{probe_parent}' ({err.strerror or err})"
        ) from None
