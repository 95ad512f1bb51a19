"""Rule agents and the oracle: valid actions, their defining choice, and their ordering."""

from __future__ import annotations

import numpy as np
import pytest

from aif_offload.agents import AGENTS, Agent, EnvContext, make_agent
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario
from aif_offload.sim.llm_latency import kv_cache_bytes
from aif_offload.sim.topology import model_spec


def _setup(batch: int, scenario: str = "paper", seed: int = 0):
    env = CloudEdgeLLMVectorEnv(batch, scenario)
    context = EnvContext(env.scenario, env.core.sim.action_nvec, env.core.layout, batch)
    obs, _ = env.reset(seed=[seed + i for i in range(batch)])
    return env, context, obs


# The agents registered by class (not by a declaration of a heavy module): the rules and the oracle.
@pytest.mark.parametrize("name", sorted(n for n, c in AGENTS.items() if issubclass(c, Agent)))
def test_every_agent_acts_within_the_action_space(name):
    env, context, obs = _setup(4)
    agent = make_agent(name, context, seeds=[0, 1, 2, 3])
    if agent.needs_episode_truth:  # hindsight: shown the episode; a short solve is enough here
        agent.time_limit_s = 0.2
        agent.see_episode(env.episode_tasks())
    for _ in range(30):
        agent.begin_episode()
        truth = env.oracle_outcomes() if agent.needs_truth else None
        action = agent.act(obs, truth)
        assert action.shape == (4, 4) and np.issubdtype(action.dtype, np.integer)
        assert np.all(action >= 0) and np.all(action < context.action_nvec)
        obs, *_ = env.step(action)


def test_agent_needs_one_seed_per_row():
    _, context, _ = _setup(2)
    with pytest.raises(ValueError, match="seeds"):
        make_agent("random", context, seeds=[0])
    with pytest.raises(ValueError, match="agent"):
        make_agent("nobody", context, seeds=[0, 1])


def test_random_rows_depend_on_their_own_seed_only():
    _, alone, obs1 = _setup(1)
    _, batch, obs3 = _setup(3)
    a = make_agent("random", alone, seeds=[9]).act(obs1)
    b = make_agent("random", batch, seeds=[4, 9, 5]).act(obs3)
    np.testing.assert_array_equal(a[0], b[1])


def test_oracle_refuses_to_act_without_truth():
    _, context, obs = _setup(1)
    with pytest.raises(ValueError, match="truth"):
        make_agent("oracle", context, seeds=[0]).act(obs)


def test_oracle_completes_whenever_some_action_does_and_is_near_the_best_guidance():
    env, context, obs = _setup(3, "paper")
    oracle = make_agent("oracle", context, seeds=[0, 1, 2])
    for _ in range(100):
        truth = env.oracle_outcomes()
        action = oracle.act(obs, truth)
        best = truth.guidance.reshape(3, -1).max(axis=1)
        chosen = truth.guidance[np.arange(3), *action.T]
        assert np.all(chosen >= best * 0.99 - 1e-12)
        possible = truth.completed.reshape(3, -1).any(axis=1)
        assert np.all(truth.completed[np.arange(3), *action.T][possible])
        obs, *_ = env.step(action)


def test_round_robin_cycles_through_servers():
    _, context, obs = _setup(2)
    agent = make_agent("round-robin", context, seeds=[0, 1])
    agent.begin_episode()
    servers = [agent.act(obs)[:, 0] for _ in range(7)]
    np.testing.assert_array_equal(np.stack(servers)[:, 0], [0, 1, 2, 3, 4, 0, 1])


def test_cloud_only_and_edge_only_choose_their_tier():
    env, context, obs = _setup(2, "paper-full")
    cloud = make_agent("cloud-only", context, seeds=[0, 1]).act(obs)
    assert np.all(cloud[:, 0] == 0)
    env.step(np.array([[1, 3, 0, 1], [2, 3, 0, 1]]))  # load edge-1 in env 0, edge-2 in env 1
    obs = env.core.observe()
    edge = make_agent("edge-only", context, seeds=[0, 1]).act(obs)
    assert edge[0, 0] not in (0, 1) and edge[1, 0] not in (0, 2)


def test_nominal_allocation_covers_the_kv_cache_with_the_smallest_level():
    env, context, obs = _setup(3)
    action = make_agent("cloud-only", context, seeds=[0, 1, 2]).act(obs)
    scenario = env.scenario
    sim = env.core.sim
    need = (
        kv_cache_bytes(model_spec(scenario), sim.prompt_tokens[:, 0] + sim.output_tokens[:, 0])
        / 1e9
    )
    levels = np.asarray(scenario.actions.memory_gb)
    expected = np.array([np.flatnonzero(levels >= n)[0] for n in need])
    np.testing.assert_array_equal(action[:, 3], expected)
    assert np.all(action[:, 1] == len(scenario.actions.compute_shares) - 1)


def test_greedy_sends_the_first_task_to_the_idle_cloud():
    # Everything idle and fully observed: the cloud (2 s) is the least-latency server.
    _, context, obs = _setup(2, "paper-full")
    action = make_agent("greedy", context, seeds=[0, 1]).act(obs)
    assert np.all(action[:, 0] == 0) and np.all(action[:, 1] == 3)


def test_oracle_beats_greedy_beats_random_on_the_paper_scenario():
    scenario = load_scenario("paper")
    completion = {
        name: np.mean(
            [r.metrics["completion_rate"].mean() for r in run_agent(name, scenario, [0, 1, 2], 1)]
        )
        for name in ("oracle", "greedy", "random")
    }
    assert completion["oracle"] > completion["greedy"] > completion["random"]
