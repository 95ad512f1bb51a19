"""Seeds batched in one process (``Agent.batches_seeds``): each seed's numbers and files are those
of the seed run alone."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from aif_offload.agents import agent_names
from aif_offload.agents.registry import batches_seeds
from aif_offload.experiment.executors import run_experiment, seed_batches
from aif_offload.experiment.runner import run_agent
from aif_offload.experiment.spec import ExperimentSpec, Unit
from aif_offload.scenarios import load_scenario, validate

BATCHING = [name for name in agent_names() if batches_seeds(name)]
HEAVY = {"aif-pyro", "aif-ensemble"}  # torch/Pyro refits: seconds per episode


def _scenario(name: str = "paper", tasks: int = 25):
    table = load_scenario(name).model_dump()
    table["episode"] |= {"tasks_per_episode": tasks}
    return validate(table)


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)  # NaN == NaN here


def test_the_rules_oracle_and_continuous_active_inference_batch_seeds():
    # aif-pymdp does not: its batched float32 reductions differ from a lone row's at 1e-7,
    # enough to flip a sampled action in a long run.
    assert {"random", "round-robin", "greedy", "oracle", "aif-pyro"} <= set(BATCHING)
    assert not {"aif-pymdp", "ppo", "hindsight"} & set(BATCHING)
    assert not batches_seeds("aif-pyro@model=tests/agents/user_models/tiny_world.py:build")


@pytest.mark.parametrize(
    "agent",
    [pytest.param(a, marks=pytest.mark.slow) if a in HEAVY else a for a in BATCHING],
)
def test_a_seed_in_a_batch_gets_the_numbers_it_gets_alone(agent):
    scenario = _scenario("paper-hidden")
    together = run_agent(agent, scenario, [3, 5], 2, eval_episodes=1)
    (alone,) = run_agent(agent, scenario, [5], 2, eval_episodes=1)
    _same(together[1].metrics, alone.metrics)
    _same(together[1].eval_metrics, alone.eval_metrics)
    np.testing.assert_array_equal(together[1].env_steps, alone.env_steps)


def _spec(**changes) -> ExperimentSpec:
    base = {
        "name": "test",
        "agents": ("greedy", "ppo"),
        "scenario_json": _scenario().model_dump_json(),
        "seeds": (0, 1, 2, 3),
        "episodes": 1,
        "eval_episodes": 1,
        "sweep": "t_max_s",
        "values": (9.0, 15.0),
    }
    return ExperimentSpec(**(base | changes))


def test_batches_group_a_batching_agent_by_value_and_leave_others_alone():
    spec = _spec()
    batches = seed_batches(spec, spec.units(), workers=1)
    greedy = [b for b in batches if b[0].agent == "greedy"]
    assert [[u.seed for u in b] for b in greedy] == [[0, 1, 2, 3], [0, 1, 2, 3]]
    assert {b[0].value for b in greedy} == {9.0, 15.0}
    assert all(len(b) == 1 for b in batches if b[0].agent == "ppo")
    assert sorted(u for b in batches for u in b) == sorted(spec.units())
    # The multi-seed batches are submitted first, so that none is the tail of the run.
    sizes = [len(b) for b in batches]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 1 and sizes[-1] == 1
    # More workers than groups: the groups are split so that every worker has a batch.
    only_greedy = _spec(agents=("greedy",), values=(15.0,))
    split = seed_batches(only_greedy, only_greedy.units(), workers=2)
    assert [[u.seed for u in b] for b in split] == [[0, 1], [2, 3]]
    assert seed_batches(only_greedy, [Unit("greedy", 15.0, 2)], workers=2) == [
        (Unit("greedy", 15.0, 2),)
    ]


def test_a_batched_experiment_writes_each_seeds_files_as_if_run_alone(tmp_path):
    spec = _spec(agents=("greedy",), values=(15.0,), seeds=(4, 7), task_records=True)
    batched = run_experiment(spec, tmp_path / "batched", workers=1)
    alone = run_experiment(_spec(**{**spec.__dict__, "seeds": (7,)}), tmp_path / "alone", workers=1)
    with xr.open_dataset(batched) as both, xr.open_dataset(alone) as one:
        xr.testing.assert_identical(both.drop_attrs().sel(seed=[7]), one.drop_attrs())
    name = "runs/greedy/t_max_s=15/seed=7.tasks.nc"
    with (
        xr.open_dataset(tmp_path / "batched" / name) as b,
        xr.open_dataset(tmp_path / "alone" / name) as a,
    ):
        assert set(b["seed"].values) == {7}
        xr.testing.assert_identical(b.drop_attrs(), a.drop_attrs())
        assert b.attrs["seed"] == "7"


@pytest.mark.slow
def test_a_batched_belief_file_is_the_seeds_own(tmp_path):
    spec = _spec(agents=("aif-pyro",), values=(15.0,), seeds=(4, 7))
    run_experiment(spec, tmp_path / "batched", workers=1)
    run_experiment(_spec(**{**spec.__dict__, "seeds": (7,)}), tmp_path / "alone", workers=1)
    name = "runs/aif-pyro/t_max_s=15/seed=7.beliefs.nc"
    import arviz as az

    batched = az.from_netcdf(tmp_path / "batched" / name)
    alone = az.from_netcdf(tmp_path / "alone" / name)
    assert batched.groups() == alone.groups()
    for group in alone.groups():
        b, a = getattr(batched, group), getattr(alone, group)
        assert list(b["seed"].values) == [7]
        xr.testing.assert_identical(b.drop_attrs(), a.drop_attrs())
        assert b.attrs["seed"] == "7"
