"""Per-task records: one row per dispatched task, consistent with the episode metrics."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from aif_offload.diagnostics.task_records import load_task_records
from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario, validate


def _scenario(tasks: int = 30):
    table = load_scenario("paper").model_dump()
    table["episode"] |= {"tasks_per_episode": tasks}
    return validate(table)


def test_records_hold_every_task_and_agree_with_the_episode_metrics(tmp_path):
    path = tmp_path / "runs" / "greedy" / "seed=4.tasks.nc"
    runs = run_agent("greedy", _scenario(), [4, 9], 2, eval_episodes=1, task_records_path=path)
    table = xr.open_dataset(path, engine="h5netcdf").load().to_dataframe()
    assert len(table) == 2 * 30 * (2 + 1)
    assert set(table["phase"]) == {"train", "eval"} and set(table["agent"]) == {"greedy"}
    assert table["step"].max() == 29 and table["deadline_s"].eq(15.0).all()
    assert (table["failure_reason"] == "completed").eq(table["completed"].astype(bool)).all()
    servers = [s.name for s in _scenario().servers]
    assert set(table["server"]) <= set(servers)
    assert (table["server"] == np.array(servers)[table["server_index"]]).all()
    for run in runs:
        for phase, metrics in (("train", run.metrics), ("eval", run.eval_metrics)):
            mine = table[(table["seed"] == run.seed) & (table["phase"] == phase)]
            for episode, rows in mine.groupby("episode"):
                done = rows[rows["completed"].astype(bool)]["latency_s"].to_numpy()
                assert metrics["completion_rate"][episode] == pytest.approx(len(done) / 30)
                assert metrics["mean_latency_s"][episode] == pytest.approx(done.mean())
                for q in (50, 95, 99):
                    expected = np.percentile(done, q)
                    assert metrics[f"p{q}_latency_s"][episode] == pytest.approx(expected)


def test_without_the_option_nothing_is_written_and_the_loader_joins_directories(tmp_path):
    run_agent("random", _scenario(10), [0], 1, beliefs_path=None)
    assert load_task_records(tmp_path) is None
    for value in (9.0, 15.0):
        path = tmp_path / "runs" / "random" / f"t_max_s={value:g}" / "seed=0.tasks.nc"
        run_agent("random", _scenario(10), [0], 1, task_records_path=path)
    table = load_task_records(tmp_path)
    assert len(table) == 20 and sorted(set(table["t_max_s"])) == [9.0, 15.0]
