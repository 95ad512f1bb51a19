"""Deep-RL baselines at tiny budgets: they build, train, act inside the action space, respect masks."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")
pytest.importorskip("tianshou")

from aif_offload.agents import EnvContext, agent_class, drl, tianshou_agents
from aif_offload.agents.allocation import observation_mask
from aif_offload.agents.deep_rl import parallel_envs
from aif_offload.envs.cloud_edge import CloudEdgeLLMEnv
from aif_offload.envs.sb3 import SB3VecEnv
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
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


@pytest.mark.parametrize("name", ["rainbow-dqn", "sac"])
def test_training_does_not_depend_on_the_processs_global_generators(name):
    # A pool worker runs many units in turn: what ran before must not change a run's result.
    import random

    import torch

    results = []
    for state in (0, 12345):
        np.random.seed(state)  # noqa: NPY002 - the legacy global generator is what is tested
        random.seed(state)
        torch.manual_seed(state)
        results.append(run_agent(name, _small(), [5], 2, eval_episodes=1)[0])
    for key in ("sum_reward", "completion_rate"):
        np.testing.assert_array_equal(results[0].metrics[key], results[1].metrics[key])
        np.testing.assert_array_equal(results[0].eval_metrics[key], results[1].eval_metrics[key])


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


@pytest.mark.parametrize(
    ("limit", "counts", "expected"),
    [
        (5, [100, 100], 5),
        (5, [15, 100, 25], 5),
        (5, [16, 100], 4),
        (4, [15, 100], 1),
        (5, [3], 3),
        (5, [3, 20], 1),
    ],
)
def test_parallel_envs_is_the_largest_divisor_within_the_limit(limit, counts, expected):
    assert parallel_envs(limit, counts) == expected


def test_parallel_envs_refuses_no_environment():
    with pytest.raises(ValueError, match="n_envs"):
        parallel_envs(0, [10])


def _stream_starts(scenario, seed: int, episodes: int) -> list[np.ndarray]:
    """First observation of each episode of the runner's training stream for ``seed``."""
    env = CloudEdgeLLMVectorEnv(1, scenario)
    obs, _ = env.reset(seed=[seed])
    starts = [obs[0]]
    while len(starts) < episodes:
        obs, _, _, truncated, _ = env.step(np.zeros((1, 4), dtype=np.int64))
        if truncated[0]:
            starts.append(obs[0])
    return starts


class _RecordingVecEnv(SB3VecEnv):
    """SB3VecEnv noting the first observation of every episode, in the order they start."""

    starts: ClassVar[list[np.ndarray]] = []
    sizes: ClassVar[list[int]] = []

    def reset(self):
        obs = super().reset()
        self.sizes.append(self.num_envs)
        self.starts.extend(obs)
        return obs

    def step_wait(self):
        obs, rewards, dones, infos = super().step_wait()
        self.starts.extend(obs[np.flatnonzero(dones)])
        return obs, rewards, dones, infos


@pytest.mark.parametrize("name", ["ppo", "maskable-ppo@envs=5"])
def test_ppo_collects_with_five_envs_on_the_runners_workloads(name, monkeypatch):
    _RecordingVecEnv.starts, _RecordingVecEnv.sizes = [], []
    monkeypatch.setattr(drl, "SB3VecEnv", _RecordingVecEnv)
    scenario = _small()
    env = CloudEdgeLLMEnv(scenario)
    context = EnvContext(scenario, env.core.sim.action_nvec, env.core.layout, 1)
    agent = agent_class(name)(context, seeds=[3])
    (run,) = run_agent(name, scenario, [3], 10, eval_episodes=1)
    assert run.env_steps.tolist() == list(range(20, 201, 20))
    assert _RecordingVecEnv.sizes == [5]
    # Episodes 0-4 in the first round, 5-9 in the second: the stream of one environment.
    for got, expected in zip(
        _RecordingVecEnv.starts, _stream_starts(scenario, 3, 10), strict=False
    ):
        np.testing.assert_array_equal(got, expected)
    assert len(_RecordingVecEnv.starts) >= 10
    # The same rollout as with one environment: 20 steps (4 per env), one minibatch of 20.
    agent.train([(0, scenario, 0)], 5)
    model = agent.models[0]
    assert (model.n_envs, model.n_steps, model.batch_size) == (5, 4, 20)


@pytest.mark.parametrize(("name", "envs"), [("maskable-ppo", 1), ("ppo", 5), ("dqn", 1)])
def test_the_default_number_of_environments(name, envs, monkeypatch):
    _RecordingVecEnv.starts, _RecordingVecEnv.sizes = [], []
    monkeypatch.setattr(drl, "SB3VecEnv", _RecordingVecEnv)
    (run,) = run_agent(name, _small(), [0], 5)
    assert run.env_steps.tolist() == [20, 40, 60, 80, 100]
    assert _RecordingVecEnv.sizes == [envs]


def test_ppo_with_five_envs_is_seed_deterministic():
    first = run_agent("ppo", _small(), [5], 5, eval_episodes=1)[0]
    second = run_agent("ppo", _small(), [5], 5, eval_episodes=1)[0]
    np.testing.assert_array_equal(first.metrics["sum_reward"], second.metrics["sum_reward"])
    np.testing.assert_array_equal(
        first.eval_metrics["sum_reward"], second.eval_metrics["sum_reward"]
    )


class _RecordingEnv(CloudEdgeLLMEnv):
    starts: ClassVar[list[np.ndarray]] = []
    instances: ClassVar[set[int]] = set()

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        self.starts.append(obs)
        self.instances.add(id(self))
        return obs, info


@pytest.mark.parametrize(
    ("name", "envs"), [("rainbow-dqn@envs=5", 5), ("sac", 5), ("rainbow-dqn", 1)]
)
def test_tianshou_collects_with_its_envs_on_the_runners_workloads(name, envs, monkeypatch):
    _RecordingEnv.starts, _RecordingEnv.instances = [], set()
    monkeypatch.setattr(tianshou_agents, "CloudEdgeLLMEnv", _RecordingEnv)
    scenario = _small()
    (run,) = run_agent(name, scenario, [3], 10)
    assert run.env_steps.tolist() == list(range(20, 201, 20))
    assert run.metrics["tasks"].tolist() == [20] * 10
    assert len(_RecordingEnv.instances) == envs
    expected = _stream_starts(scenario, 3, len(_RecordingEnv.starts))
    assert len(_RecordingEnv.starts) >= 10  # 10 episodes, then the next ones begun
    for got, want in zip(_RecordingEnv.starts, expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["ppo", "rainbow-dqn"])
def test_training_runs_single_threaded_and_restores_the_thread_count(name, monkeypatch):
    import torch

    seen = []
    cls = agent_class(name)
    original = cls._train

    def spy(self, *args):
        seen.append(torch.get_num_threads())
        return original(self, *args)

    monkeypatch.setattr(cls, "_train", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run_agent(name, _small(), [0], 1)
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
