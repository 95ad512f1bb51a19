"""The Gymnasium contract of aif_offload/CloudEdgeLLM-v0 and its vector environment."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import aif_offload
from aif_offload.envs import ENV_ID
from aif_offload.envs.cloud_edge import CloudEdgeLLMEnv
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv


def test_registered_on_import():
    assert aif_offload.__version__
    assert ENV_ID in gym.registry
    env = gym.make(ENV_ID)
    assert isinstance(env.unwrapped, CloudEdgeLLMEnv)


@pytest.mark.parametrize("flatten", [False, True])
@pytest.mark.parametrize(
    "scenario", ["paper", "paper-full", "azure-conv", "azure-code", "paper-hidden", "metro"]
)
def test_gymnasium_env_checker(scenario, flatten):
    env = gym.make(ENV_ID, scenario=scenario, flatten_actions=flatten)
    check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("flatten", [False, True])
@pytest.mark.parametrize("scenario", ["paper", "paper-hidden", "metro"])
def test_stable_baselines3_env_checker(scenario, flatten, recwarn):
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3_checker.check_env(CloudEdgeLLMEnv(scenario, flatten_actions=flatten), warn=True)
    # SB3 warns about anything it dislikes (spaces, dtypes, bounds, seeding): expect none.
    advice = [str(w.message) for w in recwarn if "stable_baselines3" in w.filename]
    assert not advice, advice


def _rollout(env, seed: int, actions: list) -> list:
    trajectory = []
    obs, _ = env.reset(seed=seed)
    trajectory.append(obs)
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        trajectory.append((obs, reward, terminated, truncated, info["latency_s"], info["failure"]))
        if terminated or truncated:
            obs, _ = env.reset()
            trajectory.append(obs)
    return trajectory


@pytest.mark.parametrize("scenario", ["paper", "paper-hidden"])
def test_seeded_determinism(scenario):
    space = gym.make(ENV_ID, scenario=scenario).action_space
    space.seed(3)
    actions = [space.sample() for _ in range(250)]  # crosses two episode boundaries
    first = _rollout(gym.make(ENV_ID, scenario=scenario), 11, actions)
    second = _rollout(gym.make(ENV_ID, scenario=scenario), 11, actions)
    other = _rollout(gym.make(ENV_ID, scenario=scenario), 12, actions)
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        if isinstance(a, tuple):
            np.testing.assert_array_equal(a[0], b[0])
            assert a[1:] == b[1:]
        else:
            np.testing.assert_array_equal(a, b)
    assert not all(
        np.array_equal(a[0] if isinstance(a, tuple) else a, b[0] if isinstance(b, tuple) else b)
        for a, b in zip(first, other, strict=True)
    )


def test_episode_truncates_after_its_tasks_and_scales_with_load():
    for load, tasks in ((100, 100), (150, 150)):
        env = gym.make(ENV_ID, load_percent=load)
        env.reset(seed=0)
        steps, truncated = 0, False
        while not truncated:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            assert not terminated
            steps += 1
        assert steps == tasks


def test_max_episode_steps_truncates_earlier():
    env = gym.make(ENV_ID, max_episode_steps=7)
    env.reset(seed=0)
    truncations = [env.step(env.action_space.sample())[3] for _ in range(7)]
    assert truncations == [False] * 6 + [True]


def test_info_reports_breakdown_and_reward_is_eq14():
    env = gym.make(ENV_ID, scenario="paper-full")
    env.reset(seed=1)
    _, reward, _, _, info = env.step(np.array([1, 3, 0, 1]))  # edge, whole GPU, 1 MHz, 0.25 GB
    parts = ("transmission_s", "propagation_s", "queueing_s", "compute_s")
    assert info["latency_s"] == pytest.approx(sum(info[p] for p in parts))
    assert info["failure"] == "completed"
    assert reward == pytest.approx(1.0 / info["latency_s"] + 0.1892)
    assert info["guidance"] == pytest.approx(reward)
    assert info["accuracy"] == pytest.approx(0.1892)


def test_completion_reward_option():
    env = gym.make(ENV_ID, scenario="paper-full", reward="completion")
    env.reset(seed=1)
    _, reward, _, _, info = env.step(np.array([1, 3, 0, 1]))
    assert reward == 1.0 and info["failure"] == "completed"


def test_invalid_action_and_reward_kind_raise():
    env = CloudEdgeLLMEnv("paper")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(np.array([9, 0, 0, 0]))
    with pytest.raises(ValueError, match="reward"):
        CloudEdgeLLMEnv("paper", reward="money")


def test_masks_match_true_feasibility_when_fully_observed():
    env = CloudEdgeLLMEnv("paper-full", flatten_actions=True)
    env.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(60):
        mask = env.action_masks()
        truth = env.oracle_outcomes()
        resource_fail = np.isin(truth.failure[0], (1, 2, 3, 4)).reshape(-1)
        if mask.any() and not mask.all():
            # Fully observed: the flat mask is exactly the set of allocations that fit.
            np.testing.assert_array_equal(mask, ~resource_fail)
        action = rng.choice(np.flatnonzero(mask))
        env.step(action)


def test_multidiscrete_masks_are_per_dimension():
    env = CloudEdgeLLMEnv("paper")
    env.reset(seed=0)
    mask = env.action_masks()
    assert mask.shape == (int(env.action_space.nvec.sum()),) and mask.dtype == bool
    # Memory levels below the task's KV cache are masked out on every server.
    memory_mask = mask[-len(env.scenario.actions.memory_gb) :]
    assert not memory_mask[0]


def test_vector_env_matches_single_envs():
    seeds = [3, 4, 5]
    vec = CloudEdgeLLMVectorEnv(3, "paper")
    obs, _ = vec.reset(seed=seeds)
    singles = [CloudEdgeLLMEnv("paper") for _ in seeds]
    # Documented equivalence: vector env i seeded s runs exactly as a single env seeded s.
    single_obs = np.stack(
        [env.reset(seed=seed)[0] for env, seed in zip(singles, seeds, strict=True)]
    )
    np.testing.assert_array_equal(obs, single_obs)
    rng = np.random.default_rng(1)
    for _ in range(120):  # crosses an episode boundary: autoreset
        actions = rng.integers(0, vec.single_action_space.nvec, size=(3, 4))
        obs, reward, terminated, truncated, info = vec.step(actions)
        stepped = [env.step(a) for env, a in zip(singles, actions, strict=True)]
        np.testing.assert_array_equal(reward, [s[1] for s in stepped])
        if not truncated.any():
            np.testing.assert_array_equal(obs, np.stack([s[0] for s in stepped]))
        assert not terminated.any()
        if truncated.any():
            assert truncated.all() and "final_obs" in info
            break
    assert truncated.all()


def test_vector_env_is_a_gymnasium_vector_env():
    vec = CloudEdgeLLMVectorEnv(4, "paper", flatten_actions=True)
    obs, _ = vec.reset(seed=0)
    assert vec.observation_space.contains(obs)
    actions = vec.action_space.sample()
    obs, reward, _, _, info = vec.step(actions)
    assert vec.observation_space.contains(obs)
    assert reward.shape == (4,) and set(info) >= {"latency_s", "completed", "failure"}
