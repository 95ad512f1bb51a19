"""What a report reads: experiment directories with ``results.nc``, ``experiment.json`` and run files.

A report directory is either one experiment directory (it holds ``results.nc``) or a parent whose
immediate subdirectories are experiment directories (``aif-offload-results/`` holding ``training/``,
``deadline/``, ...). Only saved files are read: nothing is re-run. Every problem with the input is a
``ValueError`` with a one-line message naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import xarray as xr

from aif_offload.diagnostics.comparison import has_eval, sweep_dim
from aif_offload.experiment.results import RESULTS_FILE
from aif_offload.experiment.shifts import describe
from aif_offload.experiment.spec import ExperimentSpec
from aif_offload.experiment.store import MANIFEST
from aif_offload.report.families import remember

REQUIRED_VARIABLES = ("completion_rate", "mean_latency_s", "mean_accuracy", "sum_reward", "utility")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


@dataclass(frozen=True)
class Experiment:
    """One experiment directory: its results, its spec and its run files."""

    directory: Path
    label: str  # the directory's name; unique within a report
    data: xr.Dataset
    spec: ExperimentSpec | None

    @property
    def name(self) -> str:
        """The experiment's kind: compare, training, deadline, load, adaptation or run."""
        if self.spec is not None:
            return self.spec.name
        return str(self.data.attrs.get("experiment", "run"))

    @property
    def sweep(self) -> str | None:
        return sweep_dim(self.data)

    @property
    def schedule(self) -> tuple[tuple[int, float], ...]:
        return self.spec.schedule if self.spec is not None else ()

    def shift_text(self, load_after: float) -> str:
        """What changes at the schedule's step, in words."""
        shift = self.spec.shift if self.spec is not None else ""
        if self.spec is not None and shift:
            return describe(shift, self.spec.base_scenario(), load_after)
        return f"load steps to {load_after:g} %"

    @property
    def agents(self) -> list[str]:
        return [str(a) for a in self.data.agent.values]

    @property
    def seeds(self) -> int:
        return int(self.data.sizes["seed"])

    @property
    def episodes(self) -> int:
        return int(self.data.sizes["episode"])

    @property
    def eval_episodes(self) -> int:
        return int(self.data.sizes.get("eval_episode", 0))

    @property
    def evaluated(self) -> bool:
        return has_eval(self.data)

    @property
    def is_comparison(self) -> bool:
        """No sweep and no load step: one setting, comparable agents (compare, training, run)."""
        return self.sweep is None and not self.schedule

    @cached_property
    def scenario(self) -> dict:
        text = self.data.attrs.get("scenario_json") or (
            self.spec.scenario_json if self.spec else ""
        )
        try:
            return json.loads(text) if text else {}
        except json.JSONDecodeError:
            return {}

    @property
    def t_max_s(self) -> float | None:
        return self.scenario.get("episode", {}).get("t_max_s")

    @property
    def load_percent(self) -> float | None:
        return self.scenario.get("episode", {}).get("load_percent")

    def setting(self) -> str:
        """One phrase: the experiment, its scenario and its size."""
        parts = [f"{self.name} ({self.label})"]
        if self.scenario:
            parts.append(f"scenario {self.scenario.get('name', '?')}")
        if self.sweep != "t_max_s" and self.t_max_s is not None:
            parts.append(f"t_max {self.t_max_s:g} s")
        if self.sweep != "load_percent" and self.load_percent is not None:
            parts.append(f"load {self.load_percent:g} %")
        if self.sweep:
            values = ", ".join(f"{v:g}" for v in self.data[self.sweep].values)
            parts.append(f"{self.sweep} in {{{values}}}")
        for episode, load in self.schedule:
            parts.append(f"{self.shift_text(load)} from training episode {episode + 1}")
        parts.append(
            f"{_count(self.seeds, 'seed')}, {self.episodes} training + {self.eval_episodes} "
            f"evaluation {'episode' if self.eval_episodes == 1 else 'episodes'}"
        )
        return "; ".join(parts)

    def run_files(self, suffix: str) -> dict[str, list[Path]]:
        """Files ``runs/<agent>/**/*<suffix>`` per agent, in a stable order."""
        runs = self.directory / "runs"
        found: dict[str, list[Path]] = {}
        if not runs.is_dir():
            return found
        for agent in self.agents:
            files = sorted((runs / agent).rglob(f"*{suffix}")) if (runs / agent).is_dir() else []
            files = [f for f in files if not f.name.startswith(".")]
            if files:
                found[agent] = files
        return found

    def belief_files(self) -> dict[str, list[Path]]:
        return self.run_files(".beliefs.nc")

    def nuts_files(self) -> dict[str, list[Path]]:
        return self.run_files(".nuts.nc")

    def sweep_value_of(self, path: Path) -> float | None:
        """The swept value a run file belongs to (from its ``<sweep>=<value>`` folder)."""
        for part in path.parts:
            if self.sweep and part.startswith(f"{self.sweep}="):
                return float(part.split("=", 1)[1])
        return None


def _read_results(path: Path) -> xr.Dataset:
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            data = ds.load()
    except Exception as err:  # netCDF/HDF5 raise many types for a damaged file
        raise ValueError(f"report: cannot read '{path}': {_one_line(err)}") from None
    missing = [v for v in REQUIRED_VARIABLES if v not in data]
    if missing or not {"agent", "seed", "episode"} <= set(data.dims):
        what = f"variables {missing}" if missing else "dims agent, seed, episode"
        raise ValueError(f"report: '{path}' is not an aif-offload results file (no {what})")
    return data


def _read_spec(directory: Path, data: xr.Dataset) -> ExperimentSpec | None:
    manifest = directory / MANIFEST
    text = manifest.read_text() if manifest.is_file() else data.attrs.get("experiment_json")
    if not text:
        return None
    try:
        return ExperimentSpec.from_json(text)
    except (ValueError, TypeError, KeyError) as err:
        where = manifest if manifest.is_file() else f"{directory / RESULTS_FILE} (experiment_json)"
        raise ValueError(
            f"report: cannot read the experiment spec in '{where}': {_one_line(err)}"
        ) from None


def load_experiment(directory: Path, label: str | None = None) -> Experiment:
    directory = Path(directory)
    data = _read_results(directory / RESULTS_FILE)
    spec = _read_spec(directory, data)
    remember(data.attrs.get("agents_json"))  # families and colours of agents run by path
    return Experiment(directory, label or directory.name, data, spec)


def find_experiments(directory: Path) -> tuple[list[Experiment], list[str]]:
    """The experiments of a report directory, and notes on subdirectories without results yet.

    Raises ValueError (one line) if the directory is missing or holds no readable results at all,
    or if its own results file cannot be read; an unreadable subdirectory becomes a note.
    """
    directory = Path(directory)
    if not directory.exists():
        raise ValueError(f"report: no such directory '{directory}'")
    if not directory.is_dir():
        raise ValueError(f"report: '{directory}' is not a directory")
    if (directory / RESULTS_FILE).exists():
        return [load_experiment(directory)], []
    experiments, notes = [], []
    for child in sorted(
        p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        if (child / RESULTS_FILE).exists():
            try:
                experiments.append(load_experiment(child))
            except ValueError as err:  # one bad experiment should not hide the others
                notes.append(f"{child.name}/ left out: {err}")
        elif (child / MANIFEST).exists():
            notes.append(
                f"{child.name}/ holds {MANIFEST} but no {RESULTS_FILE} yet (an unfinished run: "
                "re-run its command to finish it)."
            )
    if not experiments:
        raise ValueError(
            f"report: no {RESULTS_FILE} in '{directory}' or its immediate subdirectories "
            "(run `aif-offload compare` or `aif-offload experiment NAME` first)"
        )
    return experiments, notes
