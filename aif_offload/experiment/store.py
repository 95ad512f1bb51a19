"""The result store of an experiment directory: one file per run, written atomically, resumable.

```
DIR/experiment.json                      the spec; a re-run must match it (agents, seeds, values may grow)
DIR/runs/<agent>/[<sweep>=<value>/]seed=<seed>.npz         one finished run (NumPy arrays)
DIR/runs/<agent>/[<sweep>=<value>/]seed=<seed>.beliefs.nc  its recorded beliefs, if any
DIR/results.nc                           all runs assembled, written last
```

A run's file appears only once the run has finished, so an interrupted sweep loses nothing but
the runs in progress, and re-running the same command skips what is there. Run files are NumPy
archives because a sweep has thousands of them and netCDF costs a few hundred milliseconds per file
to write and to read; the assembled ``results.nc`` is the format users read.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np

from aif_offload.experiment.results import RESULTS_FILE, to_dataset
from aif_offload.experiment.runner import RunResult
from aif_offload.experiment.spec import ExperimentSpec, Unit
from aif_offload.experiment.storage import atomic_file, write_atomic

MANIFEST = "experiment.json"


class ExperimentMismatch(ValueError):
    """The directory holds a different experiment."""


class RunStore:
    def __init__(self, directory: Path, spec: ExperimentSpec) -> None:
        self.directory = Path(directory)
        self.spec = spec

    def open(self) -> None:
        """Create the directory and its manifest, or check that it holds this very experiment."""
        manifest = self.directory / MANIFEST
        # Temporary files of writes that a kill interrupted; the runs they belonged to are redone.
        runs = self.directory / "runs"
        for stale in runs.rglob(".*.tmp") if runs.exists() else ():
            stale.unlink(missing_ok=True)
        if manifest.exists():
            held = ExperimentSpec.from_json(manifest.read_text())
            if held == self.spec:
                return
            # Other agents, seeds or swept values on the same runs (scenario, episodes, sweep,
            # schedule) fit in: each run is seeded by its own seed and value alone, so a finished
            # run is the run the new spec would make. results.nc holds this spec's units only.
            joinable = dataclasses.replace(
                held,
                agents=self.spec.agents,
                seeds=self.spec.seeds,
                values=self.spec.values,
                sources=self.spec.sources,
            )
            if joinable != self.spec:
                raise ExperimentMismatch(
                    f"--out: '{self.directory}' holds a different experiment (see {MANIFEST}); "
                    "use another directory or the same options (only --agents, --seeds and "
                    "--values may change)"
                )
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = manifest.with_suffix(".json.tmp")
        tmp.write_text(self.spec.to_json())
        tmp.replace(manifest)

    def path(self, unit: Unit) -> Path:
        return self.directory / "runs" / f"{unit.label(self.spec.sweep_dim)}.npz"

    def beliefs_path(self, unit: Unit) -> Path:
        return self.path(unit).with_suffix(".beliefs.nc")

    def tasks_path(self, unit: Unit) -> Path:
        return self.path(unit).with_suffix(".tasks.nc")

    def done(self, unit: Unit) -> bool:
        return self.path(unit).exists()

    def pending(self) -> list[Unit]:
        return [u for u in self.spec.units() if not self.done(u)]

    def save(self, unit: Unit, run: RunResult, attrs: dict[str, str]) -> None:
        arrays = {f"train/{k}": v for k, v in run.metrics.items()}
        arrays |= {f"eval/{k}": v for k, v in run.eval_metrics.items()}
        meta = {"agent": run.agent, "seed": run.seed, "value": run.value, "attrs": attrs}
        with atomic_file(self.path(unit)) as tmp, open(tmp, "wb") as file:
            np.savez(file, env_steps=run.env_steps, meta=np.array(json.dumps(meta)), **arrays)

    def load(self, unit: Unit) -> RunResult:
        with np.load(self.path(unit)) as archive:
            meta = json.loads(str(archive["meta"]))
            metrics = {
                k.removeprefix("train/"): archive[k]
                for k in archive.files
                if k.startswith("train/")
            }
            evals = {
                k.removeprefix("eval/"): archive[k] for k in archive.files if k.startswith("eval/")
            }
            return RunResult(
                meta["agent"], meta["seed"], metrics, archive["env_steps"], evals, meta["value"]
            )

    def assemble(self, attrs: dict[str, str]) -> Path:
        """Combine every run into ``results.nc`` (atomically) and return its path.

        Runs resumed across code versions are allowed but recorded: ``run_versions`` lists every
        (version, commit) that produced a run, and a warning is raised when there is more than one.
        """
        runs, versions = [], set()
        for unit in self.spec.units():
            runs.append(self.load(unit))
            with np.load(self.path(unit)) as archive:
                made_by = json.loads(str(archive["meta"]))["attrs"]
            versions.add(f"{made_by.get('package_version')} @ {made_by.get('git_commit')}")
        if len(versions) > 1:
            warnings.warn(
                f"{self.directory}: runs were made by different code versions: {sorted(versions)}",
                stacklevel=2,
            )
        order = {name: i for i, name in enumerate(self.spec.agents)}
        runs.sort(key=lambda r: order[r.agent])
        path = self.directory / RESULTS_FILE
        attrs = {**attrs, "run_versions": "; ".join(sorted(versions))}
        write_atomic(to_dataset(runs, attrs, sweep=self.spec.sweep_dim), path)
        return path
