"""The Stable-Baselines3 VecEnv adapter: SB3's conventions and a short real training run."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO

from aif_offload.envs.sb3 import SB3VecEnv
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv


def test_episode_ends_are_reported_the_sb3_way():
    env = SB3VecEnv(3, "paper", seed=4)
    obs = env.reset()
    assert obs.shape == (3, env.observation_space.shape[0])
    rng = np.random.default_rng(0)
    for step in range(1, 101):
        env.step_async(rng.integers(0, env.action_space.nvec, size=(3, 4)))
        obs, rewards, dones, infos = env.step_wait()
        assert rewards.dtype == np.float32 and len(infos) == 3
        if step < 100:
            assert not dones.any()
    assert dones.all()
    for info in infos:
        assert info["TimeLimit.truncated"] is True
        assert info["terminal_observation"].shape == obs.shape[1:]
        assert "latency_s" in info


def test_masks_through_env_method():
    env = SB3VecEnv(2, "paper", flatten_actions=True)
    env.reset()
    masks = env.env_method("action_masks")
    assert len(masks) == 2 and masks[0].shape == (240,)
    with pytest.raises(AttributeError, match="env_method"):
        env.env_method("render")


def test_ppo_trains_on_it_and_is_seed_deterministic():
    import torch

    torch.set_num_threads(1)  # small MLP: much faster single-threaded on 2 cores

    def train() -> np.ndarray:
        env = SB3VecEnv(2, "paper", seed=1)
        model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=1, seed=3, device="cpu")
        model.learn(total_timesteps=128)
        obs = env.reset()
        return model.predict(obs, deterministic=True)[0]

    first, second = train(), train()
    assert first.shape == (2, 4)
    np.testing.assert_array_equal(first, second)


def _play(env: SB3VecEnv, rounds: int, actions: np.ndarray) -> list[np.ndarray]:
    """Every episode's observations (tasks, obs), env by env at each round, with the actions of
    the episode's place in the stream (``actions[episode, task]``)."""
    n, steps = env.num_envs, actions.shape[1]
    episodes: list[list[np.ndarray]] = [[] for _ in range(rounds * n)]
    obs = env.reset()
    for r in range(rounds):
        for t in range(steps):
            for i in range(n):
                episodes[r * n + i].append(obs[i])
            env.step_async(actions[r * n : (r + 1) * n, t])
            obs, _, dones, _ = env.step_wait()
        assert dones.all()
    return [np.stack(e) for e in episodes]


def test_one_stream_deals_the_episodes_of_one_environment_in_turn():
    steps, rounds, n = 100, 2, 3
    rng = np.random.default_rng(5)
    reference = CloudEdgeLLMVectorEnv(1, "paper")  # the runner's environment, one stream
    actions = rng.integers(0, reference.single_action_space.nvec, size=(rounds * n, steps, 4))
    obs, _ = reference.reset(seed=[7])
    expected = []
    for episode in range(rounds * n):
        trajectory = []
        for t in range(steps):
            trajectory.append(obs[0])
            obs, *_ = reference.step(actions[episode, t][None])
        expected.append(np.stack(trajectory))
    dealt = _play(SB3VecEnv(n, "paper", seed=7, one_stream=True), rounds, actions)
    for episode in range(rounds * n):
        np.testing.assert_array_equal(dealt[episode], expected[episode])
    # Without it each environment has its own stream (seed + i): episode 1 differs.
    own = _play(SB3VecEnv(n, "paper", seed=7), 1, actions[:n])
    np.testing.assert_array_equal(own[0], expected[0])
    assert not np.array_equal(own[1], expected[1])
