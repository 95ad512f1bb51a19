"""The aif-pymdp agent in the environment: valid actions, determinism by key, learning, beliefs."""

from __future__ import annotations

import numpy as np
import pytest

import aif_offload.agents
from aif_offload.agents import EnvContext, Transition
from aif_offload.agents.aif_pymdp import AifPymdpAgent, free_units
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario

BATCH = 2  # one batch size for every test here: the jitted step compiles once


def _rollout(seeds, steps):
    env = CloudEdgeLLMVectorEnv(len(seeds), "paper")
    context = EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, len(seeds))
    agent = AifPymdpAgent(context, seeds=seeds)
    obs, _ = env.reset(seed=[0, 1])
    actions = []
    agent.begin_episode()
    for _ in range(steps):
        action = agent.act(obs)
        assert action.shape == (len(seeds), 4) and np.issubdtype(action.dtype, np.integer)
        assert np.all(action >= 0) and np.all(action < context.action_nvec)
        nxt, reward, term, trunc, info = env.step(action)
        agent.observe(Transition(obs, action, reward, nxt, term, trunc, info))
        actions.append(action)
        obs = nxt
    return agent, np.stack(actions)


def test_acts_within_the_action_space_and_the_same_keys_give_the_same_actions():
    first, a = _rollout([0, 1], 20)
    _, b = _rollout([0, 1], 20)
    np.testing.assert_array_equal(a, b)
    # Online learning added one transition per step after the first to every factor.
    prior = 20.0 * first.spec.B["free_cloud"]
    learned = np.asarray(first.pymdp.pB[0])
    assert learned.shape == (BATCH, *prior.shape)
    assert learned.sum() == pytest.approx(BATCH * (prior.sum() + 19), rel=1e-4)
    # Beliefs stay normalised.
    for q in first.qs_prev:
        np.testing.assert_allclose(np.asarray(q).sum(axis=-1), 1.0, atol=1e-5)


def test_reports_are_turned_into_free_slots():
    units = np.array([2, 9])
    assert free_units(
        np.array([[1.0, 1.0], [0.5, 0.45], [0.24, 0.05], [0.0, 0.0]]), units
    ).tolist() == [
        [2, 9],
        [1, 4],
        [0, 0],
        [0, 0],
    ]


def test_the_ledger_and_the_corrected_report_track_the_true_free_slots():
    """On paper (no other tenants), the ledger of the agent's own tasks is the true free count
    nearly always, and the delay-corrected report is within one slot of it most of the time."""
    env = CloudEdgeLLMVectorEnv(BATCH, "paper")
    context = EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, BATCH)
    agent = AifPymdpAgent(context, seeds=[0, 1], record=False)
    obs, _ = env.reset(seed=[0, 1])
    agent.begin_episode()
    ledger_ok, report_ok = [], []
    for _ in range(60):
        action = agent.act(obs)
        seen = agent.adapter.levels(obs)  # what act saw: the ledger moves only in observe
        nxt, reward, term, trunc, info = env.step(action)
        truth = free_units(1 - info["true_load"][:, 0], agent.units)  # at this task's arrival
        servers = [s.name for s in context.scenario.servers]
        ledger = np.stack([seen[f"ledger_{s}"] for s in servers], axis=1)
        report = np.stack([seen[f"report_{s}"] for s in servers], axis=1)
        ledger_ok.append(ledger == truth)
        report_ok.append(np.abs(report - truth) <= 1)
        agent.observe(Transition(obs, action, reward, nxt, term, trunc, info))
        obs = nxt
    assert np.mean(ledger_ok) > 0.95
    assert np.mean(report_ok) > 0.8


def test_batch_size_must_match_the_config():
    env = CloudEdgeLLMVectorEnv(2, "paper")
    context = EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, 2)
    from aif_offload.pomdp import AgentConfig

    with pytest.raises(ValueError, match="batch_size"):
        AifPymdpAgent(context, seeds=[0, 1], config=AgentConfig(batch_size=3))


@pytest.mark.slow
def test_runner_stores_learning_curves_and_beliefs_with_the_truth(monkeypatch, tmp_path):
    import arviz as az

    monkeypatch.setitem(aif_offload.agents.AGENTS, "aif-pymdp", AifPymdpAgent)
    scenario = load_scenario("paper")
    path = tmp_path / "beliefs" / "aif-pymdp.nc"
    results = run_agent("aif-pymdp", scenario, [3, 4], 2, eval_episodes=1, beliefs_path=path)
    for r in results:
        assert r.metrics["mean_vfe"].shape == (2,) and np.all(np.isfinite(r.metrics["mean_vfe"]))
        assert np.all(r.metrics["mean_surprise"] >= 0)
        assert r.metrics["completion_rate"].mean() > 0.5
        assert r.eval_metrics["completion_rate"].shape == (1,)
    idata = az.from_netcdf(path)
    q = idata.filtering["q_load"]
    assert q.dims == ("seed", "episode", "step", "server", "level")
    assert q.sizes["step"] == scenario.episode.tasks_per_episode and q.sizes["episode"] == 3
    np.testing.assert_allclose(q.sum("level"), 1.0, atol=1e-4)
    assert list(q["server"].values) == [s.name for s in scenario.servers]
    assert idata.filtering["q_pi"].sizes["policy"] == 5
    assert "edge-1" in idata.filtering["policy"].values
    for name, draws in idata.posterior.data_vars.items():  # exact Dirichlet draws, per server
        np.testing.assert_allclose(draws.sum(draws.dims[3]), 1.0, rtol=1e-5, err_msg=name)
    truth = idata.constant_data["true_load"]
    assert truth.dims == ("seed", "episode", "step", "resource", "server")
    # Training and evaluation alike: a frozen agent still perceives, so the truth sits beside it.
    assert float(truth.min()) >= 0 and float(truth.max()) <= 1
    assert not bool(truth.isnull().any())
