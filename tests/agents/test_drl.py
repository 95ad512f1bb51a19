"""Deep-RL baselines at tiny budgets: they build, train, act inside the action space, respect masks."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")
pytest.importorskip("tianshou")

from aif_offload.agents import EnvContext, agent_class
from aif_offload.agents.allocation import observation_mask
from aif_offload.envs.cloud_edge import CloudEdgeLLMEnv
from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario, validate


def _small() -> object:
    table = load_scenario("paper").model_dump()
    table["episode"] |= {"tasks_per_episode": 20}
    return validate(table)


@pytest.mark.parametrize("name", ["ppo", "maskable-ppo", "dqn", "rainbow-dqn", "sac"])
def test_trains_a_few_episodes_and_evaluates(name):
    (run,) = run_agent(name, _small(), [3], 3, eval_episodes=1)
    assert run.env_steps.tolist() == [20, 40, 60]
    assert run.metrics["completion_rate"].shape == (3,)
    assert np.all((run.metrics["completion_rate"] >= 0) & (run.metrics["completion_rate"] <= 1))
    assert run.eval_metrics["tasks"].tolist() == [20]


@pytest.mark.parametrize("name", ["ppo", "sac"])
def test_training_is_seed_deterministic(name):
    first = run_agent(name, _small(), [5], 2, eval_episodes=1)[0]
    second = run_agent(name, _small(), [5], 2, eval_episodes=1)[0]
    for key in ("sum_reward", "completion_rate"):
        np.testing.assert_array_equal(first.metrics[key], second.metrics[key])
        np.testing.assert_array_equal(first.eval_metrics[key], second.eval_metrics[key])


@pytest.mark.parametrize("flat", [False, True])
def test_observation_mask_equals_the_environment_mask(flat):
    env = CloudEdgeLLMEnv("paper", flatten_actions=flat)
    context = EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, 1)
    obs, _ = env.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(40):
        np.testing.assert_array_equal(
            observation_mask(context, obs[None], flat=flat)[0], env.action_masks()
        )
        obs, *_ = env.step(
            env.action_space.sample() if flat else rng.integers(0, env.action_space.nvec)
        )


def test_maskable_ppo_acts_inside_the_mask():
    scenario = _small()
    cls = agent_class("maskable-ppo")
    env = CloudEdgeLLMEnv(scenario)
    context = EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, 1)
    agent = cls(context, seeds=[0])
    agent.train([(0, scenario, 0)], 1)
    obs, _ = env.reset(seed=9)
    for _ in range(20):
        action = agent.act(obs[None])[0]
        mask = env.action_masks()
        offsets = np.concatenate([[0], np.cumsum(env.action_space.nvec)[:-1]])
        assert mask[offsets + action].all()
        obs, *_ = env.step(action)


def test_rainbow_acts_inside_the_flat_mask():
    scenario = _small()
    env = CloudEdgeLLMEnv(scenario, flatten_actions=True)
    context = EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, 1)
    agent = agent_class("rainbow-dqn")(context, seeds=[0])
    agent.train([(0, scenario, 0)], 1)
    obs, _ = env.reset(seed=9)
    for _ in range(20):
        action = agent.act(obs[None])[0]
        flat = int(np.ravel_multi_index(action, env.core.sim.action_nvec))
        assert env.action_masks()[flat]
        obs, *_ = env.step(flat)


@pytest.mark.parametrize(
    ("name", "rate"), [("ppo@lr=1e-3", 1e-3), ("dqn@lr=5e-5", 5e-5), ("sac@lr=0.001", 1e-3)]
)
def test_a_variant_trains_with_its_own_learning_rate(name, rate):
    cls = agent_class(name)
    base = agent_class(name.partition("@")[0])
    assert cls.name == name and cls.learning_rate == rate != base.learning_rate
    scenario = _small()
    env = CloudEdgeLLMEnv(scenario)
    context = EnvContext(scenario, env.core.sim.action_nvec, env.core.layout, 1)
    agent = cls(context, seeds=[0])
    agent.train([(0, scenario, 0)], 1)
    if hasattr(agent, "models"):  # SB3: the optimiser runs at the variant's rate
        assert agent.models[0].policy.optimizer.param_groups[0]["lr"] == pytest.approx(rate)
    else:
        optimizer = agent.algorithms[0].policy_optim._optim
        assert optimizer.param_groups[0]["lr"] == pytest.approx(rate)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("ppo@gamma=0.9", "key among: lr"),
        ("ppo@lr=fast", "lr must be a number"),
        ("greedy@lr=1e-3", "key among: none"),
        ("nope@lr=1e-3", "unknown agent"),
    ],
)
def test_a_bad_variant_is_refused_with_the_allowed_keys(name, fragment):
    with pytest.raises(ValueError, match=fragment):
        agent_class(name)


@pytest.mark.parametrize(("name", "sampled"), [("ppo", True), ("dqn", False)])
def test_evaluation_samples_policy_gradient_policies_and_is_greedy_for_q_learning(name, sampled):
    scenario = _small()
    env = CloudEdgeLLMEnv(scenario)
    context = EnvContext(scenario, env.core.sim.action_nvec, env.core.layout, 1)
    agent = agent_class(name)(context, seeds=[0])
    agent.train([(0, scenario, 0)], 1)
    agent.freeze()
    obs, _ = env.reset(seed=1)
    actions = {tuple(agent.act(obs[None])[0]) for _ in range(30)}
    assert (len(actions) > 1) == sampled
