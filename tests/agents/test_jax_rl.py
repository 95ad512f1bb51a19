"""The JAX deep-RL agents (rejax): their training environment, registration, and tiny training runs.

Fast checks: the training env's episode metrics equal the runner's accumulator fed the same steps,
its world is the NumPy simulator's for the run's seed, and the agents are declared. Training checks
compile rejax's training loop (about a minute each on a busy 2-core machine) and are marked slow.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tomli_w
import xarray as xr

pytest.importorskip("rejax")

from aif_offload.agents import agent_class, agent_info, agent_names
from aif_offload.agents.base import DEEP_RL
from aif_offload.agents.jax_rl import build
from aif_offload.agents.jax_training_env import TrainingEnv, episode_summaries, world_speed_z
from aif_offload.cli import main
from aif_offload.envs.episode_metrics import EpisodeAccumulator
from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario, validate
from aif_offload.sim.jax_reset import numpy_draws

JAX_AGENTS = ("ppo-jax", "dqn-jax", "sac-jax")


def _small():
    table = load_scenario("paper").model_dump()
    table["episode"] |= {"tasks_per_episode": 20}
    return validate(table)


@functools.cache
def _episode(name: str, seed: int):
    """One episode of random flat actions: per-step rewards and infos, and the env's sums."""
    env = TrainingEnv(load_scenario(name))
    params = env.params(seed)
    _, state = jax.jit(env.reset)(jax.random.PRNGKey(seed), params)
    step = jax.jit(env.step)
    rng = np.random.default_rng(seed)
    rewards, infos = [], []
    for _ in range(env.num_tasks):
        action = jnp.asarray(rng.integers(env.num_actions))
        _, state, reward, done, info = step(jax.random.PRNGKey(0), state, action, params)
        rewards.append(np.asarray(reward))
        infos.append({k: np.asarray(v) for k, v in info.items()})
    return rewards, infos, state, bool(done)


@pytest.mark.parametrize("name", ["paper", "paper-hidden"])
def test_episode_sums_give_the_runner_accumulators_metrics(name):
    rewards, infos, state, done = _episode(name, 3)
    assert done  # the episode ends on its last task, and nothing resets it
    reference = EpisodeAccumulator(1)
    for reward, info in zip(rewards, infos, strict=True):
        reference.add(reward[None].astype(float), {k: v[None] for k, v in info.items()})
    expected = reference.summary()
    got = episode_summaries(jax.tree.map(lambda x: np.asarray(x)[None], state.sums))
    assert set(got) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-6, err_msg=key)


def test_the_world_is_the_numpy_simulators_for_the_runs_seed():
    scenario = load_scenario("paper-hidden")
    for world_seed in (0, 5):
        expected = numpy_draws(scenario, 11, world_seed=world_seed).speed_z
        np.testing.assert_allclose(world_speed_z(scenario, world_seed), expected)
    env = TrainingEnv(scenario)
    key = jax.random.PRNGKey(1)
    own = env.reset(key, env.params(5))[1].env.episode
    other = env.reset(key, env.params(6))[1].env.episode
    # the same workload draws in two worlds: only what the world decides differs
    np.testing.assert_array_equal(own.arrival_s, other.arrival_s)
    assert any(
        not np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(jax.tree.leaves(own), jax.tree.leaves(other), strict=True)
    )


def test_the_jax_agents_are_declared_as_deep_rl():
    names = agent_names()
    for name in JAX_AGENTS:
        assert name in names
        assert agent_info(name).family == DEEP_RL
    others = {agent_info(n).colour for n in names if n not in JAX_AGENTS}
    ours = {agent_info(n).colour for n in JAX_AGENTS}
    assert len(ours) == len(JAX_AGENTS) and not ours & others  # colours of their own
    variant = agent_class("ppo-jax@lr=1e-3+envs=4")
    assert variant.learning_rate == 1e-3 and variant.n_envs == 4


def test_a_non_jax_agent_is_refused_by_build():
    with pytest.raises(ValueError, match="not a JAX agent"):
        build("random", load_scenario("paper"), [0])


# The slow checks share one configuration per agent (scenario, seed batch of 1, 10 episodes), so
# each agent's trainer compiles once in the test process (jax_rl._prepare).
@pytest.mark.slow
@pytest.mark.parametrize("name", JAX_AGENTS)
def test_trains_a_tiny_budget_and_evaluates_deterministically(name):
    (first,) = run_agent(name, _small(), [3], 10, eval_episodes=1)
    (second,) = run_agent(name, _small(), [3], 10, eval_episodes=1)
    assert first.env_steps.tolist() == [20 * (k + 1) for k in range(10)]
    assert first.metrics["tasks"].tolist() == [20] * 10
    rate = first.metrics["completion_rate"]
    assert np.all((rate >= 0) & (rate <= 1))
    assert first.eval_metrics["tasks"].tolist() == [20]
    for key in ("sum_reward", "completion_rate"):
        np.testing.assert_array_equal(first.metrics[key], second.metrics[key])
        np.testing.assert_array_equal(first.eval_metrics[key], second.eval_metrics[key])


@pytest.mark.slow
def test_acts_inside_the_action_space_and_the_same_seed_acts_the_same():
    scenario = _small()
    agents = [build("ppo-jax", scenario, [3]) for _ in range(2)]
    for agent in agents:
        agent.train_more(scenario, 10)
        agent.freeze()
    rng = np.random.default_rng(0)
    env = TrainingEnv(scenario)
    low, high = np.asarray(env.inner.obs_low), np.asarray(env.inner.obs_high)
    nvec = agents[0].context.action_nvec
    seen = set()
    for _ in range(30):
        obs = rng.uniform(low, high, size=(1, low.size))
        a, b = (agent.act(obs) for agent in agents)
        np.testing.assert_array_equal(a, b)
        assert a.shape == (1, 4) and np.all((a >= 0) & (a < nvec))
        seen.add(tuple(a[0]))
    assert len(seen) > 1  # it samples its policy (as `ppo`), not one fixed action


@pytest.mark.slow
def test_runs_through_the_cli(tmp_path):
    scenario_file = tmp_path / "small.toml"
    scenario_file.write_text(tomli_w.dumps(_small().model_dump(mode="json", exclude_none=True)))
    out = tmp_path / "out"
    argv = ["run", "-a", "ppo-jax", "-o", str(out), "-s", str(scenario_file), "--seed", "3"]
    assert main([*argv, "--episodes", "10", "--eval-episodes", "1"]) == 0
    data = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    assert data["agent"].values.tolist() == ["ppo-jax"]
    assert data["env_steps"].values.reshape(-1)[-1] == 200


# The factorised (MultiDiscrete) head of ppo-jax ----------------------------------------------
def test_factorised_index_decoding_is_numpys_and_sb3s_multidiscrete_order():
    from aif_offload.agents.factorised_ppo import flat_index, split_index

    nvec = tuple(int(n) for n in TrainingEnv(load_scenario("paper")).inner.nvec)
    flat = np.arange(int(np.prod(nvec)))
    parts = np.stack(np.unravel_index(flat, nvec), axis=1)  # what RejaxAgent.act hands the runner
    np.testing.assert_array_equal(np.asarray(split_index(jnp.asarray(flat), nvec)), parts)
    np.testing.assert_array_equal(np.asarray(flat_index(jnp.asarray(parts), nvec)), flat)
    env = TrainingEnv(load_scenario("paper")).inner  # the env decodes a flat action the same way
    np.testing.assert_array_equal(np.asarray(env.to_multi(jnp.asarray(37))), parts[37])


def test_factorised_policy_is_a_product_of_per_dimension_categoricals():
    from flax import linen as nn

    from aif_offload.agents.factorised_ppo import FactorisedPolicy, split_index

    nvec = (5, 4, 3, 4)
    policy = FactorisedPolicy(nvec, (8,), nn.tanh)
    obs = jax.random.normal(jax.random.PRNGKey(2), (1, 6))
    params = policy.init(jax.random.PRNGKey(0), obs, jax.random.PRNGKey(1))
    flat = jnp.arange(240)
    log_prob, entropy = policy.apply(
        params, jnp.repeat(obs, 240, 0), flat, method="log_prob_entropy"
    )
    marginals = [np.exp(np.asarray(lp[0])) for lp in policy.apply(params, obs, method="logits")]
    parts = np.asarray(split_index(flat, nvec))
    product = np.prod([m[parts[:, d]] for d, m in enumerate(marginals)], axis=0)
    np.testing.assert_allclose(np.exp(log_prob), product, rtol=1e-5)  # joint = product
    np.testing.assert_allclose(np.exp(log_prob).sum(), 1.0, rtol=1e-5)
    joint_entropy = -(np.exp(log_prob) * log_prob).sum()
    np.testing.assert_allclose(entropy[0], joint_entropy, rtol=1e-4)  # sum of the marginals'
    # sampling: the same key draws the same flat action; draws follow the product distribution
    keys = jax.random.split(jax.random.PRNGKey(3), 4000)
    draws = jax.vmap(lambda k: policy.apply(params, obs, k, method="act")[0])(keys)
    again = jax.vmap(lambda k: policy.apply(params, obs, k, method="act")[0])(keys)
    np.testing.assert_array_equal(np.asarray(draws), np.asarray(again))
    first = np.bincount(np.asarray(split_index(draws, nvec))[:, 0], minlength=5) / 4000
    np.testing.assert_allclose(first, marginals[0], atol=0.03)
    mode = policy.apply(params, obs, method="mode")[0]
    assert int(mode) == int(np.argmax(product))
