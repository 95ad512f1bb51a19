"""The gymnax-style functional environment: its contract, and the Gymnasium env's semantics.

Fed the draws the NumPy simulator makes for a seed, the functional env gives the observations,
rewards, ``info`` and action masks of the Gymnasium environment (``flatten_actions=True``) step by
step. Compiled functions are cached per scenario.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aif_offload.envs.core import EnvCore
from aif_offload.envs.functional import EnvParams, EnvState, FunctionalEnv, batch_step
from aif_offload.sim.jax_reset import numpy_draws

INFO_KEYS = (
    "true_load",
    "true_tenant_gpus",
    "true_tenant_regime",
    "true_speed_factor",
    "true_output_tokens",
    "latency_s",
    "transmission_s",
    "propagation_s",
    "queueing_s",
    "compute_s",
    "completed",
    "failure",
    "accuracy",
    "guidance",
    "reward_eq14",
)


@functools.cache
def compiled(name: str, x64: bool):
    env = FunctionalEnv(name)

    def start(episode, params):
        state = EnvState(episode, env.core.initial_state(episode))
        return env.get_obs(state, params), env.action_mask(state, params), state

    def step(key, state, action, params):
        obs, state, reward, done, info = env.step_env(key, state, action, params)
        return obs, env.action_mask(state, params), state, reward, done, info

    return (
        env,
        jax.jit(jax.vmap(env.builder.build)),
        jax.jit(jax.vmap(start)),
        jax.jit(jax.vmap(step)),
    )


def params_for(env: FunctionalEnv, batch: int) -> EnvParams:
    return EnvParams(
        t_max_s=jnp.full(batch, env.scenario.episode.t_max_s),
        world_key=jax.random.split(jax.random.key(0), batch),
    )


def replay(name: str, seeds: list[int], x64: bool):
    """Both environments through one episode of random flat actions; per-step records."""
    env, build, start, step = compiled(name, x64)
    b = len(seeds)
    ref = EnvCore(name, b, flatten_actions=True)
    ref.sim.reset(seeds, world_seeds=seeds)
    draws = [numpy_draws(env.scenario, s, cap=env.builder.cap) for s in seeds]
    episode = build(jax.tree.map(lambda *x: jnp.asarray(np.stack(x)), *draws))
    params = params_for(env, b)
    obs, mask, state = start(episode, params)
    keys = jax.random.split(jax.random.key(1), b)
    rng = np.random.default_rng(0)
    records = []
    for _ in range(env.core.num_tasks):
        ref_obs, ref_mask = ref.observe(), ref.action_masks()
        action = rng.integers(0, env.num_actions, size=b)
        records.append(((obs, mask), (ref_obs, ref_mask)))
        obs, mask, state, reward, done, info = step(keys, state, jnp.asarray(action), params)
        result, truth = ref.step(action)
        ref_info = ref.info(result, truth)
        records.append(((reward, done, info), (ref.reward(result), ref.sim.done.copy(), ref_info)))
    return records


@pytest.mark.parametrize("name", ["paper", "paper-hidden", "metro"])
def test_matches_the_gymnasium_env_step_by_step(name):
    with jax.enable_x64(True):
        records = replay(name, [4, 7], x64=True)
    observations = records[0::2]
    for (obs, mask), (ref_obs, ref_mask) in observations:
        assert obs.dtype == jnp.float32
        np.testing.assert_allclose(obs, ref_obs, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(mask, ref_mask)
    for (reward, done, info), (ref_reward, ref_done, ref_info) in records[1::2]:
        np.testing.assert_allclose(reward, ref_reward, rtol=1e-9)
        np.testing.assert_array_equal(done, ref_done)
        for key in INFO_KEYS:
            np.testing.assert_allclose(info[key], ref_info[key], rtol=1e-9, atol=1e-12, err_msg=key)
    assert bool(np.all(records[-1][0][1]))  # the episode ends after its last task


def test_float32_agrees_to_its_documented_tolerance():
    """JAX's default precision: the continuous fields to 1e-4 relative while the failure codes
    agree; the codes agree on nearly every step (a flip needs a value within float32 rounding of
    a threshold, after which the two trajectories may differ)."""
    records = replay("paper", [0, 1, 2, 3], x64=False)
    steps = records[1::2]
    failures = np.array([info["failure"] for (_, _, info), _ in steps])
    ref_failures = np.array([ref_info["failure"] for _, (_, _, ref_info) in steps])
    agree = failures == ref_failures
    assert agree.mean() >= 0.95
    # Up to the first disagreement of each environment the trajectories are the same.
    first = np.where(agree.all(axis=0), len(steps), np.argmin(agree, axis=0))
    for k, ((_, _, info), (_, _, ref_info)) in enumerate(steps):
        same = k < first
        np.testing.assert_allclose(
            np.asarray(info["latency_s"])[same], ref_info["latency_s"][same], rtol=1e-4
        )


@functools.cache
def contract_functions():
    env = FunctionalEnv("paper-hidden")
    return env, jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step))


def test_gymnax_contract_spaces_reset_step_and_auto_reset():
    env, reset, step = contract_functions()
    b, n = 3, env.core.num_tasks
    params = params_for(env, b)
    obs, state = reset(jax.random.split(jax.random.key(0), b), params)
    first = state
    space = env.observation_space(params)
    assert obs.shape == (b, *space.shape) and obs.dtype == space.dtype
    assert bool(jax.vmap(space.contains)(obs).all())
    actions = env.action_space(params)
    assert actions.n == 5 * 4 * 3 * 4
    keys = jax.random.split(jax.random.key(1), (n + 1, b))
    dones = []
    for k in range(n + 1):
        a = jax.vmap(actions.sample)(keys[k])
        assert bool(jax.vmap(actions.contains)(a).all())
        obs, state, reward, done, info = step(keys[k], state, a, params)
        assert bool(jax.vmap(space.contains)(obs).all())
        assert reward.shape == (b,) and info["latency_s"].shape == (b,)
        dones.append(np.asarray(done))
    dones = np.array(dones)
    # Truncation after exactly N tasks, then a fresh episode: one more task dispatched since.
    assert dones[n - 1].all() and not dones[: n - 1].any() and not dones[n].any()
    np.testing.assert_array_equal(state.time, 1)
    # A key fixes the episode; keys apart give different workloads.
    _, again = reset(jax.random.split(jax.random.key(0), b), params)
    np.testing.assert_array_equal(again.episode.prompt_tokens, first.episode.prompt_tokens)
    assert not np.array_equal(again.episode.prompt_tokens[0], again.episode.prompt_tokens[1])


def test_batch_step_equals_vmapped_step_across_a_reset():
    env, reset, step = contract_functions()
    b, n = 2, env.core.num_tasks
    params = params_for(env, b)
    _, state = reset(jax.random.split(jax.random.key(3), b), params)
    other = state
    batched = jax.jit(functools.partial(batch_step, env))
    keys = jax.random.split(jax.random.key(4), (n + 2, b))
    actions = jax.random.randint(jax.random.key(5), (n + 2, b), 0, env.num_actions)
    for k in range(n + 2):
        obs, state, reward, done, _ = step(keys[k], state, actions[k], params)
        obs2, other, reward2, done2, _ = batched(keys[k], other, actions[k], params)
        np.testing.assert_array_equal(obs, obs2)
        np.testing.assert_array_equal(reward, reward2)
        np.testing.assert_array_equal(done, done2)
    for leaf, leaf2 in zip(jax.tree.leaves(state), jax.tree.leaves(other), strict=True):
        np.testing.assert_array_equal(leaf, leaf2)


def test_deadline_varies_per_environment_through_params():
    env, reset, step = contract_functions()
    params = EnvParams(
        t_max_s=jnp.array([0.05, 1000.0]), world_key=jax.random.split(jax.random.key(0), 2)
    )
    keys = jax.random.split(jax.random.key(6), 2)
    obs, state = reset(jnp.stack([keys[0], keys[0]]), params)
    t_index = env.layout.slice("t_max_s").start
    np.testing.assert_allclose(obs[:, t_index], [0.05, 1000.0], rtol=1e-6)
    largest = int(np.ravel_multi_index((0, 3, 2, 3), env.nvec))  # cloud, the most of everything
    _, _, _, _, info = step(keys, state, jnp.array([largest, largest]), params)
    # Same task, same action: too tight a deadline fails it, a loose one does not.
    assert int(info["failure"][0]) == 5 and int(info["failure"][1]) != 5
