"""The agents' clock against closed forms, and ``aif-pyro``'s ledger against the simulator's timing."""

from __future__ import annotations

import numpy as np
import pytest

from aif_offload.agents import EnvContext, Transition
from aif_offload.agents.aif_pyro import AifPyroAgent
from aif_offload.agents.event_clock import OBSERVED_CLOCK, STEP_CLOCK, EventClock, clock_source
from aif_offload.envs.observation import CLOCK_FIELD, ObservationLayout
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.scenarios import load_scenario
from aif_offload.sim.outcome import COMPLETED, DEADLINE_EXCEEDED
from tests.agents.test_aif_pyro import SMALL


def _observations(layout: ObservationLayout, gaps: np.ndarray) -> np.ndarray:
    """(T, B, size) zero observations whose clock field holds ``gaps`` (T, B)."""
    obs = np.zeros((*gaps.shape, layout.size), dtype=np.float32)
    obs[..., layout.slice(CLOCK_FIELD)] = gaps[..., None]
    return obs


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("paper", STEP_CLOCK),  # no clock observed
        ("paper-hidden", STEP_CLOCK),  # clock observed, but arrivals are evenly spaced
        ("metro", STEP_CLOCK),
        ("azure-conv", OBSERVED_CLOCK),
        ("azure-code", OBSERVED_CLOCK),
    ],
)
def test_source_follows_the_arrival_law_and_the_clock_observation(name, source):
    assert clock_source(load_scenario(name).nominal_view()) == source


def test_observed_clock_is_the_cumulative_sum_of_the_gaps():
    scenario = load_scenario("azure-conv")
    layout = ObservationLayout.for_scenario(scenario)
    rng = np.random.default_rng(0)
    gaps = rng.exponential(0.2, (30, 3)).astype(np.float32)
    gaps[0] = 0.0  # the first task of an episode
    clock = EventClock(scenario, layout, 3)
    obs = _observations(layout, gaps)
    expected = np.cumsum(gaps.astype(float), axis=0)
    for k in range(len(gaps)):
        np.testing.assert_allclose(clock.tick(obs[k]), expected[k], rtol=1e-12)
        if k + 1 < len(gaps):
            np.testing.assert_allclose(clock.next_arrival(obs[k + 1]), expected[k + 1], rtol=1e-12)
    # A new episode starts at 0 even if its first observation carries a nonzero gap.
    clock.reset()
    np.testing.assert_array_equal(clock.tick(obs[5]), 0.0)
    np.testing.assert_allclose(clock.tick(obs[6]), gaps[6], rtol=1e-12)


def test_step_clock_is_k_times_the_interarrival_whatever_is_observed():
    scenario = load_scenario("paper-hidden")
    layout = ObservationLayout.for_scenario(scenario)
    gap = scenario.episode.interarrival_s
    clock = EventClock(scenario, layout, 2)
    obs = _observations(layout, np.full((12, 2), 99.0))  # ignored: the step clock is exact here
    for k in range(12):
        np.testing.assert_array_equal(clock.tick(obs[k]), k * gap)
        np.testing.assert_allclose(clock.next_arrival(obs[k]), (k + 1) * gap, rtol=1e-12)
    edges = clock.horizon(np.array([1.0, 2.0]), 3)
    np.testing.assert_allclose(
        edges, [[1.0 + i * gap for i in range(4)], [2.0 + i * gap for i in range(4)]]
    )


def test_clock_on_without_the_field_is_refused():
    scenario = load_scenario("azure-conv")
    with pytest.raises(ValueError, match=r"observation\.clock"):
        EventClock(scenario, ObservationLayout(scenario.num_servers, clock=False), 1)


def test_pyro_ledger_releases_at_the_simulators_times_on_a_trace_scenario():
    """Every admitted task's release time in the ledger is its true arrival time plus its
    latency (capped at t_max), read from the simulator here only to check the agent."""
    seeds = [5, 6]
    env = CloudEdgeLLMVectorEnv(len(seeds), load_scenario("azure-code"))
    context = EnvContext(env.scenario.nominal_view(), env.core.sim.action_nvec, env.core.layout, 2)
    agent = AifPyroAgent(context, seeds=seeds, config=SMALL)
    observation, _ = env.reset(seed=seeds)
    arrival = env.core.sim.arrival_s.copy()  # (B, tasks): the truth, for the check only
    assert np.std(np.diff(arrival, axis=1)) > 0.1  # bursty: a step clock would be wrong
    agent.begin_episode()
    checked = 0
    for k in range(40):
        action = agent.act(observation)
        np.testing.assert_allclose(agent._pending["now"], arrival[:, k], rtol=1e-5, atol=1e-4)
        next_observation, reward, terminated, truncated, info = env.step(action)
        agent.observe(
            Transition(observation, action, reward, next_observation, terminated, truncated, info)
        )
        failure = np.asarray(info["failure"])
        t_max = context.layout.get(observation, "t_max_s").astype(float)
        for b in np.flatnonzero((failure == COMPLETED) | (failure == DEADLINE_EXCEEDED)):
            release = arrival[b, k] + min(float(info["latency_s"][b]), t_max[b])
            if release > arrival[b, k + 1]:  # still held when the next task arrives: in the ledger
                held = agent.ledger.release_s[b][agent.ledger.active[b]]
                assert np.min(np.abs(held - release)) < 1e-3, (k, b)
                checked += 1
        observation = next_observation
    assert checked > 20
