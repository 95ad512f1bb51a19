"""The registered id's two entry points (single, batched), and rgb_array rendering."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import aif_offload  # noqa: F401  (registers the id)
from aif_offload.envs import ENV_ID
from aif_offload.envs.cloud_edge import CloudEdgeLLMEnv
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv


def test_make_vec_builds_the_batched_env_from_the_vector_entry_point():
    vec = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="vector_entry_point", t_max_s=10)
    assert isinstance(vec.unwrapped, CloudEdgeLLMVectorEnv) and vec.num_envs == 4
    assert vec.unwrapped.scenario.episode.t_max_s == 10
    obs, _ = vec.reset(seed=7)
    # Env i of reset(seed=7) is seeded 7 + i: the same trajectory as the single env seeded so.
    singles = [gym.make(ENV_ID, t_max_s=10).unwrapped for _ in range(4)]
    np.testing.assert_array_equal(obs, [env.reset(seed=7 + i)[0] for i, env in enumerate(singles)])
    actions = np.random.default_rng(0).integers(0, vec.single_action_space.nvec, size=(4, 4))
    obs, reward, *_ = vec.step(actions)
    stepped = [env.step(a) for env, a in zip(singles, actions, strict=True)]
    np.testing.assert_array_equal(obs, [s[0] for s in stepped])
    np.testing.assert_array_equal(reward, [s[1] for s in stepped])


def test_make_vec_env_of_stable_baselines3_gives_no_warning():
    env_util = pytest.importorskip("stable_baselines3.common.env_util")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        vec = env_util.make_vec_env(ENV_ID, n_envs=2, seed=0)
        vec.reset()
        vec.step(np.stack([vec.action_space.sample() for _ in range(2)]))
    # SB3 asked for render_mode="rgb_array" (its default); the env honours it.
    assert vec.get_attr("render_mode") == ["rgb_array", "rgb_array"]


def test_rgb_array_shows_the_observed_loads_and_passes_the_checker():
    env = gym.make(ENV_ID, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)  # includes Gymnasium's render checks
    obs, _ = env.reset(seed=3)
    image = env.render()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    layout = env.unwrapped.core.layout
    height = image.shape[0]
    # Column by column, the coloured run from the bottom is the fraction the agent is told is left.
    bars = [
        height - np.argmax((image[:, x] != 255).any(axis=1))
        for x in range(image.shape[1])
        if (image[-1, x] != 255).any()
    ]
    told = np.concatenate(
        [
            layout.get(obs, name)
            for name in ("remaining_compute", "remaining_bandwidth", "remaining_memory")
        ]
    )
    heights = {round(float(f) * (height - 1)) for f in told}
    assert set(bars) <= heights and len(bars) > 0
    assert CloudEdgeLLMEnv().render() is None  # no render_mode: nothing to draw


def test_an_unknown_render_mode_names_the_argument():
    with pytest.raises(ValueError, match="render_mode: unknown mode 'human'"):
        CloudEdgeLLMEnv(render_mode="human")
