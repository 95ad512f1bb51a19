"""The Stable-Baselines3 VecEnv adapter: SB3's conventions and a short real training run."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO

from aif_offload.envs.sb3 import SB3VecEnv


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
