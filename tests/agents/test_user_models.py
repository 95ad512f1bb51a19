"""Users' own models on the two active-inference engines: ``aif-pymdp@model=...`` and
``aif-pyro@model=...`` (the models are in ``tests/agents/user_models``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from aif_offload.agents import EnvContext, Transition, agent_class
from aif_offload.agents.registry import _split_variant, agent_info
from aif_offload.cli import main
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv

ROOT = Path(__file__).resolve().parents[2]
MODELS = "tests/agents/user_models"
POMDP = f"aif-pymdp@model={MODELS}/tiny_pomdp.py:build"
WORLD = f"aif-pyro@model={MODELS}/tiny_world.py:build"


@pytest.mark.parametrize(
    ("spec", "split"),
    [
        ("aif-pymdp@model=my.py:build", ("aif-pymdp", "model=my.py:build")),
        ("aif-pymdp@model=a/b@c/my.py:build+x=1", ("aif-pymdp", "model=a/b@c/my.py:build+x=1")),
        ("ppo@lr=1e-4", ("ppo", "lr=1e-4")),
        ("dir/u@x/agent.py:MyAgent@share=0.5", ("dir/u@x/agent.py:MyAgent", "share=0.5")),
        ("pkg.mod:Cls@model=pkg.models:build", ("pkg.mod:Cls", "model=pkg.models:build")),
        ("dir@x/agent.py:MyAgent", ("dir@x/agent.py:MyAgent", "")),
        ("greedy", ("greedy", "")),
    ],
)
def test_variant_specs_split_at_the_first_at_after_a_whole_base(spec, split):
    assert _split_variant(spec) == split


def test_a_relative_model_path_is_absolute_for_workers_and_short_in_the_name(monkeypatch):
    monkeypatch.chdir(ROOT)
    info = agent_info(POMDP)
    assert info.name == "aif-pymdp@model=tiny_pomdp.py:build"
    absolute = ROOT / MODELS / "tiny_pomdp.py"
    assert info.source == f"aif-pymdp@model={absolute}:build"
    monkeypatch.chdir(ROOT / "tests")  # a worker elsewhere loads the same file
    assert agent_class(info.source).model == f"{absolute}:build"


def _context(batch=2):
    env = CloudEdgeLLMVectorEnv(batch, "paper")
    return env, EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, batch)


def test_the_users_likelihood_and_adapter_are_what_the_engine_uses(monkeypatch):
    """First step of an episode: q(edge_crowd) is Bayes' rule with the user's D and A (the
    verdict "none" carries no information), and the action is the user's adapter's choice."""
    from tests.agents.user_models.tiny_pomdp import INITIAL_CROWD, ROOM

    monkeypatch.chdir(ROOT)
    env, context = _context()
    agent = agent_class(POMDP)(context, seeds=[0, 1])
    assert agent.spec.name == "tiny" and agent.controls == ["target"]
    obs, _ = env.reset(seed=[0, 1])
    agent.begin_episode()
    action = agent.act(obs)
    room = agent._log["obs_edge_room"][0]
    expected = ROOM[room] * INITIAL_CROWD
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(agent._log["q_edge_crowd"][0], expected, atol=1e-4)
    kinds = np.array([s.kind for s in context.scenario.servers])
    left = context.layout.get(obs, "remaining_compute")
    roomiest_edge = np.where(kinds != "cloud", left, -np.inf).argmax(axis=1)
    cloud = int(np.flatnonzero(kinds == "cloud")[0])
    assert np.all((action[:, 0] == cloud) | (action[:, 0] == roomiest_edge))
    nxt, reward, term, trunc, info = env.step(action)
    agent.observe(Transition(obs, action, reward, nxt, term, trunc, info))
    assert set(agent.adapter.verdict.tolist()) <= {1, 2}
    beliefs = agent.belief_data()
    assert beliefs.filtering["q_edge_crowd"].dims == ("seed", "episode", "step", "edge_crowd")
    assert "cloud" in beliefs.filtering["policy"].values


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        (f"aif-pymdp@model={MODELS}/missing.py:build", "model: no such file"),
        (f"aif-pymdp@model={MODELS}/tiny_pomdp.py:nothing", "has no 'nothing'"),
        ("aif-pyro@model=aif_offload.no_such_module:build", "model: cannot import"),
        ("aif-pyro@model=build", "is not path/to/file.py:callable or package.module:callable"),
    ],
)
def test_a_bad_model_source_is_a_one_line_error_naming_the_key(capsys, tmp_path, spec, needle):
    out = tmp_path / "out"
    assert main(["run", "--agent", spec, "--out", str(out), "--episodes", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("aif-offload: error: --agent:") and needle in err and "model" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        (f"aif-pymdp@model={MODELS}/tiny_pomdp.py:build_wrong", "must return"),
        (f"aif-pyro@model={MODELS}/tiny_pomdp.py:build", "must return"),
    ],
)
def test_a_builder_returning_the_wrong_type_is_a_one_line_error(monkeypatch, spec, needle):
    monkeypatch.chdir(ROOT)
    _, context = _context()
    with pytest.raises(ValueError, match=needle) as caught:
        agent_class(spec)(context, seeds=[0, 1])
    assert "\n" not in str(caught.value) and str(caught.value).startswith("model:")


@pytest.mark.slow
def test_users_models_run_through_the_cli_in_the_process_pool(tmp_path, monkeypatch, capsys):
    """Both engines on the user's models, relative paths, two worker processes."""
    monkeypatch.chdir(ROOT)
    out = tmp_path / "user"
    argv = ["compare", "--agents", f"{POMDP},{WORLD}", "--seeds", "1", "--episodes", "2"]
    argv += ["--eval-episodes", "1", "--workers", "2", "--no-report", "--task-records"]
    assert main([*argv, "--out", str(out)]) == 0
    results = xr.open_dataset(out / "results.nc")
    names = ["aif-pymdp@model=tiny_pomdp.py:build", "aif-pyro@model=tiny_world.py:build"]
    assert list(results["agent"].values) == names
    assert np.all(results["completion_rate"] > 0) and np.all(results["eval_completion_rate"] > 0)
    # The user's world model learned in the worker: its own statistic, per training episode.
    residual = results["tiny_abs_residual"].sel(agent=names[1])
    assert np.all(np.isfinite(residual)) and np.all(residual >= 0)
    assert np.isnan(results["tiny_abs_residual"].sel(agent=names[0])).all()
    # Valid actions, the user's adapter's: a server of the scenario with the rules' nominal
    # allocation (a whole GPU) every time.
    tasks = xr.open_dataset(out / "runs" / names[0] / "seed=0.tasks.nc")
    scenario = json.loads(results.attrs["scenario_json"])
    whole = scenario["actions"]["compute_shares"].index(1.0)
    assert set(np.unique(tasks["server_index"].values)) <= set(range(len(scenario["servers"])))
    assert set(np.unique(tasks["compute_level"].values)) == {whole}
    assert np.all(np.isfinite(results["mean_surprise"].sel(agent=names[0])))
