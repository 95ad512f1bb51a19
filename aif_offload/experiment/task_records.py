"""Per-task records of a run: one row per dispatched task, written as a netCDF table.

``run``, ``compare`` and ``experiment`` with ``--task-records`` write
``runs/<agent>/[<sweep>=<v>/]seed=<s>.tasks.nc`` next to each run: an xarray Dataset with one dim,
``task``, and one variable per column, so ``xr.open_dataset(path).to_dataframe()`` is a pandas
table (``aif_offload.diagnostics.task_records.load_task_records`` joins every file of a
directory). netCDF rather than Parquet: it needs no pyarrow and travels with the other files.

Columns: ``agent``, ``seed``, ``phase`` (``train`` / ``eval``), ``episode`` (counted within the
phase), ``step``; ``terminal`` (the issuing terminal), ``server`` (name) and ``server_index``, the
allocation levels ``compute_level``, ``bandwidth_level``, ``memory_level`` and their values
``compute_share``, ``bandwidth_mhz``, ``memory_gb``; from the observation the agent saw,
``prompt_tokens``, ``output_tokens`` (as observed) and ``deadline_s``; ``reward``; ``failure_reason``
(a name, ``completed`` for a success); and every per-task entry of the environment's ``info``
(one value per environment: ``latency_s``, ``transmission_s``, ``propagation_s``, ``queueing_s``,
``compute_s``, ``completed``, ``accuracy``, ``guidance``, ``reward_eq14``, and whatever the
environment adds). The latency parts of a failed task are whatever the simulator reports for it;
latency statistics use completed tasks only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from aif_offload.sim.outcome import FAILURE_REASONS

TASKS_SUFFIX = ".tasks.nc"
ACTION_COLUMNS = ("server_index", "compute_level", "bandwidth_level", "memory_level")


class TaskRecorder:
    """Collects the rows of every step of one run (B environments, one per seed)."""

    def __init__(self, agent: str, seeds: Sequence[int], scenario, layout) -> None:
        self.agent = agent
        self.seeds = np.asarray(seeds, dtype=np.int64)
        self.servers = np.array([s.name for s in scenario.servers])
        actions = scenario.actions
        self.levels = {
            "compute_share": np.asarray(actions.compute_shares, float),
            "bandwidth_mhz": np.asarray(actions.bandwidth_mhz, float),
            "memory_gb": np.asarray(actions.memory_gb, float),
        }
        self.layout = layout
        self.columns: dict[str, list[np.ndarray]] = {}
        self._phase, self._episode, self._step = "train", 0, 0

    def begin_episode(self, phase: str, episode: int) -> None:
        self._phase, self._episode, self._step = phase, episode, 0

    def _put(self, name: str, values: np.ndarray) -> None:
        self.columns.setdefault(name, []).append(np.asarray(values))

    def add(
        self,
        observation: np.ndarray,
        action: np.ndarray,
        terminals: np.ndarray,
        reward: np.ndarray,
        info: dict[str, np.ndarray],
    ) -> None:
        """One step: the observation the action was chosen on, the action, its outcome."""
        b = len(self.seeds)
        action = np.asarray(action).reshape(b, -1).astype(np.int64)
        self._put("agent", np.full(b, self.agent, dtype=object))
        self._put("seed", self.seeds)
        self._put("phase", np.full(b, self._phase, dtype=object))
        self._put("episode", np.full(b, self._episode, dtype=np.int64))
        self._put("step", np.full(b, self._step, dtype=np.int64))
        self._put("terminal", np.asarray(terminals, dtype=np.int64))
        self._put("server", self.servers[action[:, 0]].astype(object))
        for k, name in enumerate(ACTION_COLUMNS):
            self._put(name, action[:, k])
        for k, (name, values) in enumerate(self.levels.items(), start=1):
            self._put(name, values[action[:, k]])
        get = self.layout.get
        for name in ("prompt", "output"):
            tokens = np.rint(1000 * get(observation, f"{name}_ktokens")).astype(np.int64)
            self._put(f"{name}_tokens", tokens)
        self._put("deadline_s", get(observation, "t_max_s").astype(float))
        self._put("reward", np.asarray(reward, float))
        failure = np.asarray(info["failure"], dtype=np.int64)
        self._put("failure_reason", np.asarray(FAILURE_REASONS, dtype=object)[failure])
        for key, value in info.items():
            value = np.asarray(value)
            if key != "failure" and value.shape == (b,) and value.dtype.kind in "biuf":
                self._put(key, value)
        self._step += 1

    def to_dataset(self, attrs: dict[str, str] | None = None) -> xr.Dataset:
        """The rows as a Dataset with dim ``task`` (columns missing from some steps: dropped)."""
        rows = {k: len(v) for k, v in self.columns.items()}
        steps = max(rows.values(), default=0)
        data = {
            name: ("task", np.concatenate(parts))
            for name, parts in self.columns.items()
            if len(parts) == steps
        }
        for name in ("agent", "phase", "server", "failure_reason"):
            if name in data:
                data[name] = ("task", data[name][1].astype(str))
        ds = xr.Dataset(data, coords={"task": np.arange(steps * len(self.seeds))})
        ds.attrs.update(attrs or {})
        ds.attrs["description"] = (
            "one row per dispatched task; see aif_offload.experiment.task_records"
        )
        return ds
