"""The JAX core against the NumPy reference: same draws, same actions, the same outcomes.

Every embedded scenario, step by step: each outcome field, the agent's view, every action's outcome
(what the oracle reads) and the resources in use, under random actions and under an oracle-like
policy (the best reward the NumPy core says any action has). The reset is checked by feeding the
draws the NumPy simulator makes for a seed to the JAX build. Float64 throughout (``enable_x64``),
so the tolerance is rounding; compiled functions are cached per scenario.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from aif_offload.scenarios import load_scenario
from aif_offload.sim.jax_core import JaxCore, episode_from_simulator
from aif_offload.sim.jax_reset import JUMP_TAIL, EpisodeBuilder, jump_cap, numpy_draws
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.simulator import BatchedSimulator
from aif_offload.sim.tenants import _uniformised, stationary_mean_gpus, tenant_chain
from tests.sim.helpers import OUTCOME_FIELDS

SCENARIOS = ("paper", "paper-full", "azure-conv", "azure-code", "paper-hidden", "metro")
RTOL = 1e-9
VIEW_FIELDS = (
    "distance_km",
    "remaining_fraction",
    "prompt_tokens",
    "output_tokens",
    "request_kb",
    "reply_kb",
    "t_max_s",
    "gap_s",
)


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


@functools.cache
def compiled(name: str):
    """The scenario's core, builder and jitted batched functions (one compile per scenario)."""
    scenario = load_scenario(name)
    core = JaxCore(scenario)
    builder = EpisodeBuilder(core)

    def look_then_step(episode, state, action, t_max_s):
        task = core.task(episode, state, t_max_s)
        view = core.agent_view(episode, state, t_max_s)
        every = core.evaluate_all(task)
        state, result = core.step(episode, state, action, t_max_s)
        return view, every, state, result

    return (
        scenario,
        core,
        builder,
        jax.jit(jax.vmap(look_then_step)),
        jax.jit(jax.vmap(core.initial_state)),
        jax.jit(jax.vmap(builder.build)),
    )


def close(actual, expected, what: str) -> None:
    np.testing.assert_allclose(
        np.asarray(actual), np.asarray(expected), rtol=RTOL, atol=0, err_msg=what
    )


def run_both(name: str, seeds: list[int], policy: str) -> np.ndarray:
    """Step both cores through whole episodes, compare every step; returns failures (N, B)."""
    scenario, _, _, look_then_step, initial, _ = compiled(name)
    sim = BatchedSimulator(scenario, len(seeds))
    sim.reset(seeds)
    episode = jax.tree.map(jnp.asarray, episode_from_simulator(sim))
    state = initial(episode)
    t_max = jnp.full(len(seeds), scenario.episode.t_max_s)
    rng = np.random.default_rng(sum(seeds))
    ours, theirs = [], []
    for _ in range(sim.num_tasks):
        ref_state = sim.task_state()
        ref_view = sim.agent_view(ref_state)
        ref_every = sim.evaluate_all(ref_state)
        if policy == "random":
            actions = rng.integers(0, sim.action_nvec, size=(len(seeds), 4))
        else:  # the best action by the true reward, as an oracle would pick
            flat = ref_every.reward.reshape(len(seeds), -1).argmax(axis=1)
            actions = np.stack(np.unravel_index(flat, tuple(sim.action_nvec)), axis=1)
        view, every, state, result = look_then_step(episode, state, jnp.asarray(actions), t_max)
        ref = sim.step(actions, ref_state)
        ours.append((view, every, result, state.in_use, state.occupied))
        theirs.append(
            (
                ref_view,
                ref_every,
                ref,
                sim.reservations.in_use.copy(),
                sim.reservations.occupied.copy(),
            )
        )
    # Compared once, stacked over the steps (a step's mismatch names its field; the step is the
    # leading index of the reported position).
    for i, fields in ((0, VIEW_FIELDS), (1, OUTCOME_FIELDS), (2, OUTCOME_FIELDS)):
        for f in fields:
            close(
                np.stack([np.asarray(getattr(o[i], f)) for o in ours]),
                np.stack([getattr(t[i], f) for t in theirs]),
                f"{('view', 'evaluate_all', 'step')[i]}.{f}",
            )
    close(np.stack([o[3] for o in ours]), np.stack([t[3] for t in theirs]), "in_use")
    np.testing.assert_array_equal(np.stack([o[4] for o in ours]), np.stack([t[4] for t in theirs]))
    assert bool(np.all(np.asarray(state.task_index) == sim.num_tasks))
    return np.stack([t[2].failure for t in theirs])


@pytest.mark.parametrize("name", SCENARIOS)
def test_step_matches_numpy_under_random_actions(name):
    failures = run_both(name, [0, 1, 2], "random")
    # Random allocations exercise the failure paths, not just completion.
    assert len(np.unique(failures)) >= 3


@pytest.mark.parametrize("name", SCENARIOS)
def test_step_matches_numpy_under_an_oracle_like_policy(name):
    failures = run_both(name, [5, 6], "oracle")
    assert (failures == 0).mean() > 0.5  # the policy mostly completes: the queues fill up


@pytest.mark.parametrize("name", SCENARIOS)
def test_reset_build_matches_numpy_precompute(name):
    scenario, _, builder, _, _, build = compiled(name)
    seeds, worlds = [3, 17], [3, 99]
    sim = BatchedSimulator(scenario, len(seeds))
    sim.reset(seeds, world_seeds=worlds)
    draws = [
        numpy_draws(scenario, s, w, cap=builder.cap) for s, w in zip(seeds, worlds, strict=True)
    ]
    got = build(jax.tree.map(lambda *x: jnp.asarray(np.stack(x)), *draws))
    ref = episode_from_simulator(sim)
    for f in got._fields:
        close(getattr(got, f), getattr(ref, f), f)


def test_rollout_under_scan_equals_single_steps():
    scenario, core, _, look_then_step, initial, _ = compiled("paper-hidden")
    sim = BatchedSimulator(scenario, 2)
    sim.reset([8, 9])
    episode = jax.tree.map(jnp.asarray, episode_from_simulator(sim))
    actions = np.random.default_rng(1).integers(0, core.action_nvec, (2, core.num_tasks, 4))
    t_max = jnp.full(2, scenario.episode.t_max_s)
    final, scanned = jax.jit(jax.vmap(core.rollout))(episode, initial(episode), actions, t_max)
    state = initial(episode)
    for k in range(core.num_tasks):
        _, _, state, result = look_then_step(episode, state, jnp.asarray(actions[:, k]), t_max)
        for f in OUTCOME_FIELDS:
            close(getattr(scanned, f)[:, k], getattr(result, f), f"step {k} {f}")
    close(final.reports, state.reports, "reports")


# The tenants' jump cap -------------------------------------------------------------------
def _max_rate(scenario) -> float:
    return max(
        _uniformised(tenant_chain(scenario.hidden.tenants[s.name], s.num_gpus))[0]
        for s in scenario.servers
        if s.name in scenario.hidden.tenants
    )


@pytest.mark.parametrize("name", ["paper-hidden", "metro"])
def test_jump_cap_bounds_the_tail_per_step_arrivals(name):
    scenario = load_scenario(name)
    cap = jump_cap(scenario)
    mu = _max_rate(scenario) * scenario.episode.interarrival_s
    assert stats.poisson.sf(cap, mu) <= JUMP_TAIL < stats.poisson.sf(cap - 1, mu)


def test_jump_cap_bounds_the_tail_of_exponential_gaps():
    table = load_scenario("paper-hidden").model_dump()
    table["episode"]["arrival"] = "poisson"
    scenario = Scenario.model_validate(table)
    cap = jump_cap(scenario)
    rate, mean = _max_rate(scenario), scenario.episode.interarrival_s

    def tail(j):  # P(Poisson(rate g) > j), g ~ Exp(mean), by quadrature
        value, _ = integrate.quad(
            lambda g: stats.poisson.sf(j, rate * g) * np.exp(-g / mean) / mean, 0, np.inf
        )
        return value

    assert tail(cap) <= JUMP_TAIL * 1.001
    assert tail(cap - 1) > JUMP_TAIL


def test_clipped_jumps_are_counted_not_hidden():
    scenario = load_scenario("paper-hidden")
    core = JaxCore(scenario)
    exact, tight = EpisodeBuilder(core), EpisodeBuilder(core, cap=1)
    keys = jax.random.split(jax.random.key(0), 64)
    world = jax.random.key(1)
    draws = jax.jit(jax.vmap(tight.draw, in_axes=(0, None)))(keys, world)
    episodes = jax.jit(jax.vmap(tight.build))(draws)
    expected = (np.asarray(draws.tenant_jumps) > 1).sum(axis=(1, 2))
    assert expected.sum() > 0
    np.testing.assert_array_equal(episodes.tenant_jumps_clipped, expected)
    # With the computed cap nothing is clipped (the tail is 1e-12 per gap).
    fresh = jax.jit(jax.vmap(lambda k: exact.build(exact.draw(k, world))))(keys)
    assert int(np.asarray(fresh.tenant_jumps_clipped).sum()) == 0


@pytest.mark.slow
def test_jax_drawn_tenants_follow_their_stationary_law():
    """Fresh JAX draws (not NumPy's): the tenants' busy GPUs at the first arrival of independent
    episodes average to the chain's stationary mean (an independent linear solve)."""
    scenario = load_scenario("paper-hidden")
    builder = EpisodeBuilder(JaxCore(scenario))
    keys = jax.random.split(jax.random.key(2), 2000)
    episodes = jax.jit(jax.vmap(lambda k: builder.build(builder.draw(k, jax.random.key(0)))))(keys)
    server = scenario.servers[1]
    first = np.asarray(episodes.tenant_gpus)[:, 0, 1]
    expected = stationary_mean_gpus(scenario.hidden.tenants[server.name], server.num_gpus)
    assert abs(first.mean() - expected) < 4 * first.std() / np.sqrt(first.size)
    # Along the episode the chain stays stationary: the mean over later arrivals agrees too.
    late = np.asarray(episodes.tenant_gpus)[:, -1, 1]
    assert abs(late.mean() - expected) < 4 * late.std() / np.sqrt(late.size)
