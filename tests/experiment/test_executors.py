"""The experiment runner: resumption after a kill, and identical numbers on every executor."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from aif_offload.experiment.executors import run_experiment
from aif_offload.experiment.spec import ExperimentSpec, named_experiment
from aif_offload.scenarios import ScenarioError, load_scenario, validate


def _small_scenario_json() -> str:
    """The paper scenario with 25 tasks per episode: same arrival rate and regimes, faster tests."""
    table = load_scenario("paper").model_dump()
    table["episode"] |= {"tasks_per_episode": 25}
    return validate(table).model_dump_json()


def _spec(**changes) -> ExperimentSpec:
    base = {
        "name": "test",
        "agents": ("random", "greedy"),
        "scenario_json": _small_scenario_json(),
        "seeds": (0, 1),
        "episodes": 2,
        "eval_episodes": 1,
        "sweep": "t_max_s",
        "values": (9.0, 15.0),
    }
    return ExperimentSpec(**(base | changes))


def _numbers(path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as data:
        return data.load().drop_attrs()


class _Killed(Exception):
    pass


def test_a_killed_sweep_resumes_to_the_same_results(tmp_path, monkeypatch):
    spec = _spec()
    reference = _numbers(run_experiment(spec, tmp_path / "straight", workers=1))

    import aif_offload.experiment.executors as executors

    original = executors.execute_units
    # Both rules batch their two seeds: 3 episodes x 2 seeds = 6 ticks per batch of two runs; die
    # part-way through the third batch.
    ticks_left = [15]

    def dying(spec_json, units, directory, tick=None):
        def countdown():
            ticks_left[0] -= 1
            if ticks_left[0] == 0:
                raise _Killed
            if tick:
                tick()

        return original(spec_json, units, directory, countdown)

    monkeypatch.setattr(executors, "execute_units", dying)
    with pytest.raises(_Killed):
        run_experiment(spec, tmp_path / "resumed", workers=1)
    finished = sorted((tmp_path / "resumed" / "runs").rglob("seed=*.npz"))
    assert len(finished) == 4 and not (tmp_path / "resumed" / "results.nc").exists()
    monkeypatch.setattr(executors, "execute_units", original)
    resumed = _numbers(run_experiment(spec, tmp_path / "resumed", workers=1))
    xr.testing.assert_identical(resumed, reference)
    assert len(list((tmp_path / "resumed" / "runs").rglob("seed=*.npz"))) == 8


def test_process_pool_and_ray_give_identical_numbers(tmp_path):
    # A user's agent from a file: every worker loads it by path from the spec alone.
    user_file = Path(__file__).parents[1] / "agents" / "user_agents" / "my_agent.py"
    spec = _spec(
        agents=("random", "oracle", "my-agent"),
        sources=(("my-agent", f"{user_file}:MyAgent"),),
        values=(15.0,),
        seeds=(3, 4, 5),
    )
    local = _numbers(run_experiment(spec, tmp_path / "one", workers=1))
    pool = _numbers(run_experiment(spec, tmp_path / "pool", workers=2))
    xr.testing.assert_identical(pool, local)
    pytest.importorskip("ray")
    on_ray = _numbers(run_experiment(spec, tmp_path / "ray", executor="ray", workers=2))
    xr.testing.assert_identical(on_ray, local)


def test_results_have_the_sweep_and_evaluation_dimensions(tmp_path):
    data = _numbers(run_experiment(_spec(), tmp_path, workers=1))
    assert dict(data.completion_rate.sizes) == {"agent": 2, "seed": 2, "t_max_s": 2, "episode": 2}
    assert dict(data.eval_completion_rate.sizes) == {
        "agent": 2,
        "seed": 2,
        "t_max_s": 2,
        "eval_episode": 1,
    }
    greedy = data.eval_completion_rate.sel(agent="greedy")
    assert float(greedy.sel(t_max_s=9.0).mean()) < 0.25 < float(greedy.sel(t_max_s=15.0).mean())
    # Held-out evaluation workloads differ from every training workload.
    assert not np.isin(data.eval_sum_reward.values, data.sum_reward.values).any()


def test_adaptation_with_the_load_shift_steps_the_load_half_way(tmp_path):
    spec = named_experiment(
        "adaptation",
        agents=("oracle",),
        scenario=load_scenario("paper"),
        seeds=(0,),
        episodes=4,
        eval_episodes=0,
        shift="load",
    )
    assert spec.schedule == ((2, 180.0),) and spec.shift == ""
    data = _numbers(run_experiment(spec, tmp_path, workers=1))
    tasks = data.tasks.sel(agent="oracle", seed=0).values.tolist()
    assert tasks == [100, 100, 180, 180]
    completion = data.completion_rate.sel(agent="oracle", seed=0).values
    assert completion[2:].max() < completion[:2].min()


def test_a_sweep_runs_the_values_it_is_given_or_the_papers():
    def deadline(values):
        return named_experiment(
            "deadline",
            agents=("oracle",),
            scenario=load_scenario("paper"),
            seeds=(0,),
            episodes=1,
            eval_episodes=0,
            values=values,
        )

    assert deadline(None).values == tuple(float(t) for t in range(1, 16))
    subset = deadline((5.0, 12.0))
    assert subset.values == (5.0, 12.0)
    assert [unit.value for unit in subset.units()] == [5.0, 12.0]


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"agents": ()}, "agents"),
        ({"seeds": ()}, "seeds"),
        ({"seeds": (1, 1)}, "seeds"),
        ({"episodes": 0}, "episodes"),
        ({"sweep": "speed"}, "sweep"),
        ({"values": ()}, "values"),
        ({"values": (15.0, -1.0)}, "t_max_s"),
        ({"schedule": ((5, 150.0),)}, "schedule"),
    ],
)
def test_invalid_experiments_are_refused(changes, needle):
    with pytest.raises((ValueError, ScenarioError), match=needle):
        _spec(**changes)


def test_runs_from_another_code_version_are_flagged(tmp_path):
    import json

    spec = _spec(agents=("random",), values=(15.0,), seeds=(0, 1), eval_episodes=0, episodes=1)
    path = run_experiment(spec, tmp_path, workers=1)
    assert " @ " in _attrs(path)["run_versions"]
    old = next((tmp_path / "runs").rglob("seed=0.npz"))
    with np.load(old) as archive:
        arrays = dict(archive)
    meta = json.loads(str(arrays["meta"]))
    meta["attrs"]["git_commit"] = "0" * 40
    arrays["meta"] = np.array(json.dumps(meta))
    with open(old, "wb") as file:
        np.savez(file, **arrays)
    (tmp_path / "results.nc").unlink()
    with pytest.warns(UserWarning, match="different code versions"):
        path = run_experiment(spec, tmp_path, workers=1)
    assert "0" * 40 in _attrs(path)["run_versions"]


def _attrs(path) -> dict:
    with xr.open_dataset(path, engine="h5netcdf") as data:
        return dict(data.attrs)


def test_pool_workers_run_numeric_libraries_single_threaded_unless_told_otherwise(monkeypatch):
    from aif_offload.experiment.executors import _one_thread_each

    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "XLA_FLAGS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "4")  # the user's own setting wins
    _one_thread_each()
    assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert os.environ["MKL_NUM_THREADS"] == "4"
    assert "intra_op_parallelism_threads=1" in os.environ["XLA_FLAGS"]


def test_progress_goes_to_a_log_file_as_one_line_per_run(tmp_path):
    import io

    from rich.console import Console

    log = io.StringIO()
    spec = _spec(agents=("greedy",), seeds=(0,), episodes=1, eval_episodes=0)
    run_experiment(spec, tmp_path, workers=1, console=Console(file=log, width=200))
    lines = [line for line in log.getvalue().splitlines() if line.strip()]
    assert len(lines) == len(spec.units()) == 2
    assert lines[0].startswith("test: 1/2 runs done (last greedy")
    assert lines[1].startswith("test: 2/2 runs done") and "min left" in lines[1]


def test_the_sweep_experiment_sweeps_any_numeric_field_by_dotted_path():
    base = load_scenario("paper")
    spec = named_experiment(
        "sweep",
        agents=("greedy",),
        scenario=base,
        seeds=(0,),
        episodes=1,
        eval_episodes=0,
        values=(4.0, 6.0),
        field="servers.edge-2.num_gpus",
    )
    assert spec.sweep == "servers.edge-2.num_gpus" and spec.sweep_dim == "num_gpus"
    assert [s.num_gpus for s in spec.scenario_at(4.0).servers] == [2, 9, 4, 9, 9]
    deadline = named_experiment(
        "deadline", agents=("greedy",), scenario=base, seeds=(0,), episodes=1, eval_episodes=0
    )
    assert deadline.sweep == "episode.t_max_s" and deadline.scenario_at(5.0).episode.t_max_s == 5.0
    # Manifests written before dotted paths name an episode field alone: read the same.
    legacy = json.loads(deadline.to_json()) | {"sweep": "t_max_s"}
    assert ExperimentSpec.from_json(json.dumps(legacy)) == deadline
    for field, needle in (
        ("episode.nope", "not a numeric field"),
        ("servers.x.num_gpus", "no entry"),
    ):
        with pytest.raises(ValueError, match=needle):
            named_experiment(
                "sweep",
                agents=("greedy",),
                scenario=base,
                seeds=(0,),
                episodes=1,
                eval_episodes=0,
                values=(1.0,),
                field=field,
            )


def test_a_resumed_run_says_how_many_runs_it_found_done(tmp_path):
    import io

    from rich.console import Console

    spec = _spec(agents=("greedy",), seeds=(0, 1), episodes=1, eval_episodes=0)
    run_experiment(spec, tmp_path, workers=1, console=Console(file=io.StringIO()))
    next((tmp_path / "runs").rglob("seed=1.npz")).unlink()
    log = io.StringIO()
    run_experiment(spec, tmp_path, workers=1, console=Console(file=log, width=200))
    lines = log.getvalue().splitlines()
    assert lines[0] == f"resuming: 3 of 4 runs already done in {tmp_path}"
    assert sum("runs done" in line for line in lines) == 1  # only the missing run ran
