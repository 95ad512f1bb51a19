"""The adaptation experiment's world shifts: a tenant surge on one edge, or the load step."""

from __future__ import annotations

import numpy as np
import pytest

from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.experiment.executors import run_experiment
from aif_offload.experiment.shifts import shifted, surge_server
from aif_offload.experiment.spec import ExperimentSpec, named_experiment
from aif_offload.scenarios import load_scenario


def _erlang_loss_mean(offered: float, gpus: int) -> float:
    """Mean busy servers of M/M/c/c: offered x (1 - Erlang B)."""
    weights = np.cumprod([1.0, *(offered / k for k in range(1, gpus + 1))])
    return offered * (1.0 - weights[-1] / weights.sum())


def test_the_surge_hits_the_first_edge_and_leaves_the_rest_and_the_nominal_view_alone():
    paper = load_scenario("paper")
    after = shifted(paper, "tenant-surge")
    assert surge_server(paper) == "edge-1"
    tenants = after.hidden.tenants["edge-1"]
    assert tenants.max_gpus == 8 and len(tenants.regimes) == 1
    assert set(after.hidden.tenants) == {"edge-1"}
    assert after.servers == paper.servers and after.episode == paper.episode
    assert shifted(paper, "load") == paper


def test_after_the_surge_the_tenants_hold_the_erlang_loss_mean_of_the_first_edge():
    after = shifted(load_scenario("paper"), "tenant-surge")
    env = CloudEdgeLLMVectorEnv(4, after)
    env.reset(seed=[0, 1, 2, 3], options={"world_seeds": [0, 1, 2, 3]})
    held = []
    rng = np.random.default_rng(0)
    for _ in range(after.episode.num_tasks):
        action = np.stack([rng.integers(0, n, 4) for n in env.core.sim.action_nvec], axis=1)
        *_, info = env.step(action)
        held.append(info["true_tenant_gpus"][:, 1])  # server 0 is the cloud, 1 is edge-1
    regime = after.hidden.tenants["edge-1"]
    expected = _erlang_loss_mean(regime.regimes[0].arrival_per_s * regime.mean_job_s, 8)
    assert expected > 7.5
    assert np.mean(held) == pytest.approx(expected, abs=0.25)


def _adaptation(**changes) -> ExperimentSpec:
    return named_experiment(
        "adaptation",
        agents=("greedy",),
        scenario=load_scenario("paper"),
        seeds=(0,),
        episodes=4,
        eval_episodes=0,
        **changes,
    )


def test_adaptation_shifts_the_world_by_a_tenant_surge_by_default():
    spec = _adaptation()
    assert spec.schedule == ((2, 100.0),) and spec.shift == "tenant-surge"
    ((episode, later),) = spec.schedule_scenarios(None)
    assert episode == 2 and "edge-1" in later.hidden.tenants
    assert ExperimentSpec.from_json(spec.to_json()) == spec
    assert "shift" not in _adaptation(shift="load").to_json()  # older manifests are unchanged


@pytest.mark.parametrize(
    ("changes", "needle"),
    [({"shift": "earthquake"}, "allowed: tenant-surge, load"), ({}, "only the adaptation")],
)
def test_unknown_or_misplaced_shifts_are_refused(changes, needle):
    with pytest.raises(ValueError, match=needle):
        if changes:
            _adaptation(**changes)
        else:
            named_experiment(
                "training",
                agents=("greedy",),
                scenario=load_scenario("paper"),
                seeds=(0,),
                episodes=2,
                eval_episodes=0,
                shift="load",
            )


def test_greedy_loses_completion_after_the_surge_it_was_not_told_of(tmp_path):
    import xarray as xr

    spec = _adaptation(shift="tenant-surge")
    with xr.open_dataset(run_experiment(spec, tmp_path, workers=1)) as data:
        completion = data.completion_rate.sel(agent="greedy", seed=0).values
        failures = data.failure_count.sel(agent="greedy", seed=0)
        out_of_compute = failures.sel(failure_reason="out_of_compute").values
    assert completion[2:].max() < completion[:2].min()
    assert out_of_compute[2:].min() > out_of_compute[:2].max()
