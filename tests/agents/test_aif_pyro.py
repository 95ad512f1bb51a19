"""``aif-pyro`` in the environment: valid actions, determinism, statistics and recorded beliefs."""

from __future__ import annotations

import numpy as np
import pytest

import aif_offload.agents
from aif_offload.agents import EnvContext, Transition
from aif_offload.agents.aif_pyro import AifPyroAgent, AifPyroConfig
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.planning.cem import CemConfig
from aif_offload.scenarios import load_scenario

# Small planner and short refits keep the tests fast; the defaults are exercised by the benchmark.
SMALL = AifPyroConfig(
    planner=CemConfig(iterations=2, candidates=16, top_k=4, horizon=2),
    num_models=3,
    svi_steps=3,
    svi_jit=False,
)


def _context(env: CloudEdgeLLMVectorEnv) -> EnvContext:
    return EnvContext(
        scenario=env.scenario,
        action_nvec=env.core.sim.action_nvec,
        layout=env.core.layout,
        batch_size=env.num_envs,
    )


def _drive(build, seeds, *, episodes=1, extra_steps=0):
    """Run ``build(context)``'s agent for ``episodes`` episodes and ``extra_steps`` more steps."""
    env = CloudEdgeLLMVectorEnv(len(seeds), load_scenario("paper"))
    agent = build(_context(env))
    observation, _ = env.reset(seed=list(seeds))
    actions, stats = [], []
    for episode in range(episodes + (1 if extra_steps else 0)):
        agent.begin_episode()
        step = 0
        while True:
            action = agent.act(observation)
            assert env.action_space.contains(action)
            actions.append(action)
            next_observation, reward, terminated, truncated, info = env.step(action)
            final = info.get("final_obs", next_observation)
            agent.observe(
                Transition(observation, action, reward, final, terminated, truncated, info)
            )
            observation = next_observation
            step += 1
            if truncated.all() or (episode == episodes and step >= extra_steps):
                break
        if episode < episodes:
            stats.append(agent.end_episode())
    return agent, np.stack(actions), stats


def _play(seeds, *, episodes=1, extra_steps=0):
    return _drive(
        lambda context: AifPyroAgent(context, seeds=seeds, config=SMALL),
        seeds,
        episodes=episodes,
        extra_steps=extra_steps,
    )


@pytest.fixture(scope="module")
def played():
    return _play([3, 4], episodes=1, extra_steps=5)


def test_acts_within_the_action_space_and_reports_statistics(played):
    agent, actions, stats = played
    nvec = agent.context.action_nvec
    assert actions.shape[1:] == (2, 4)
    assert np.all((actions >= 0) & (actions < nvec))
    for name in ("svi_loss", "log_compute_abs_error", "mean_abs_innovation", "load_abs_error"):
        assert stats[0][name].shape == (2,)
        assert np.all(np.isfinite(stats[0][name]))


def test_same_seed_same_decisions_whatever_the_batch(played):
    _, actions, _ = played
    _, again, _ = _play([3, 4], episodes=1, extra_steps=5)
    np.testing.assert_array_equal(actions, again)
    _, alone, _ = _play([4], episodes=1, extra_steps=5)
    np.testing.assert_array_equal(actions[:, 1], alone[:, 0])


def test_belief_data_is_inference_data_with_truth(played, tmp_path):
    import arviz as az

    agent, _, _ = played
    idata = agent.belief_data()
    assert isinstance(idata, az.InferenceData)
    beliefs = idata.filtering
    assert beliefs["load_mean"].dims == ("seed", "episode", "step", "server")
    assert beliefs["efe_info_gain"].dims == ("seed", "episode", "step")
    assert list(beliefs.coords["server"].values) == [
        "cloud",
        "edge-1",
        "edge-2",
        "edge-3",
        "edge-4",
    ]
    truth = idata.constant_data["true_load"]
    assert truth.shape == beliefs["load_mean"].shape
    # The filtered belief is close to the simulator's true load.
    assert float(np.abs(beliefs["load_mean"] - truth).mean()) < 0.05
    assert idata.posterior["log_speed"].dims == ("chain", "draw", "seed", "server")
    assert idata.posterior.attrs["draws_are"] == "variational"
    assert idata.posterior.attrs["inference_method"] == "svi"
    path = tmp_path / "beliefs.nc"
    idata.to_netcdf(str(path), engine="h5netcdf")
    assert az.from_netcdf(str(path)).filtering["efe"].shape == (2, 1, 100)


def test_runs_through_the_runner(monkeypatch, tmp_path):
    from aif_offload.experiment.runner import run_agent

    class Small(AifPyroAgent):
        def __init__(self, context, *, seeds):
            super().__init__(context, seeds=seeds, config=SMALL)

    monkeypatch.setitem(aif_offload.agents.AGENTS, "aif-pyro", Small)
    path = tmp_path / "beliefs" / "aif-pyro.nc"
    results = run_agent(
        "aif-pyro", load_scenario("paper"), seeds=[0, 1], episodes=1, beliefs_path=path
    )
    assert path.exists()
    assert len(results) == 2
    completion = results[0].metrics["completion_rate"]
    assert completion.shape == (1,) and 0.5 < completion[0] <= 1.0
    assert "svi_loss" in results[0].metrics


def test_summary_is_one_line():
    assert "\n" not in AifPyroAgent.summary and AifPyroAgent.name == "aif-pyro"


def _play_ensemble(seeds, steps_after_refit=10):
    from aif_offload.agents.aif_ensemble import AifEnsembleAgent, AifEnsembleConfig

    config = AifEnsembleConfig(base=SMALL, members=3, hidden=8, train_steps=20)
    agent, actions, stats = _drive(
        lambda context: AifEnsembleAgent(context, seeds=seeds, config=config),
        seeds,
        episodes=1,
        extra_steps=steps_after_refit,
    )
    return agent, actions, stats[0]


def test_ensemble_world_models_have_planner_shapes():
    from aif_offload.agents.aif_ensemble import AifEnsembleAgent, AifEnsembleConfig

    env = CloudEdgeLLMVectorEnv(2, load_scenario("paper"))
    context = _context(env)
    agent = AifEnsembleAgent(context, seeds=[0, 1], config=AifEnsembleConfig(base=SMALL))
    observation, _ = env.reset(seed=[0, 1])
    _, compute, _ = agent._predictions(observation)
    mean, sd, step = agent._world_models(observation, compute)
    assert mean.shape == sd.shape == step.shape == (2, 5, 5, 4)  # rows, members, servers, levels
    assert np.all(sd > 0)
    assert mean.std(axis=1).max() > 0  # the untrained members already disagree a little
    np.testing.assert_allclose(mean.mean(axis=1), np.log(compute), atol=0.5)
    action = agent.act(observation)
    assert env.action_space.contains(action)


@pytest.mark.slow
def test_ensemble_agent_acts_learns_and_is_deterministic():
    agent, actions, stats = _play_ensemble([5, 6])
    assert agent.name == "aif-ensemble" and "\n" not in agent.summary
    assert np.all((actions >= 0) & (actions < agent.context.action_nvec))
    assert stats["ensemble_loss"].shape == (2,) and np.all(np.isfinite(stats["ensemble_loss"]))
    _, again, _ = _play_ensemble([5, 6])
    np.testing.assert_array_equal(actions, again)
