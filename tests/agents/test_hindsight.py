"""``hindsight``: its relaxation solved exactly, its bound above every policy, and determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from aif_offload.agents import AGENTS, EnvContext, make_agent
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.experiment.runner import _play_episode, run_agent
from aif_offload.planning import hindsight as hs
from aif_offload.scenarios import load_scenario
from aif_offload.sim import channel, outcome
from aif_offload.sim.mobility import positions_at
from aif_offload.sim.outcome import COMPLETED, DEADLINE_EXCEEDED
from aif_offload.sim.simulator import action_grid
from tests.sim.helpers import edited, make_sim

TENANTS = {
    "mean_job_s": 2.0,
    "regimes": [{"name": "busy", "arrival_per_s": 0.4, "mean_dwell_s": 60.0}],
}


def _tiny(tenants: bool, tasks: int = 4):
    """A cloud with 1 GPU and an edge with 2, little bandwidth, tasks 0.4 s apart: resources bind."""

    def edit(table):
        table["episode"].update(tasks_per_episode=tasks, mean_interarrival_s=0.4, t_max_s=12.0)
        cloud, edge = table["servers"][0], table["servers"][1]
        cloud.update(num_gpus=1, max_parallel=2, bandwidth_mhz=6.0)
        edge.update(num_gpus=2, max_parallel=4, bandwidth_mhz=6.0)
        table["servers"] = [cloud, edge]
        table["actions"] = {
            "compute_shares": [0.5, 1.0],
            "bandwidth_mhz": [1.0, 5.0],
            "memory_gb": [0.125, 0.25, 0.5],
        }
        if tenants:
            table["hidden"] = {"tenants": {edge["name"]: TENANTS}}

    return edited(edit)


def _brute_force(tasks, servers, scenario) -> tuple[int, float]:
    """Best completions and eq. 14 value over every assignment of raw actions (no pruning, no
    big-M): a depth-first walk that checks each completed task's admission at its arrival."""
    st = tasks.states
    nvec = np.array([servers.num_servers, *(len(x) for x in hs._levels(scenario))])
    free = outcome.evaluate(st, servers, scenario, *action_grid(nvec))
    floor = hs.latency_floor_s(tasks, servers, scenario, free)
    a = scenario.actions
    options = []  # per task: (server, use (3,), release, value)
    for n in range(st.now_s.size):
        mine = []
        for s, c, w, m in itertools.product(*(range(k) for k in nvec)):
            use = np.array(
                [a.compute_shares[c] * servers.gpu_tflops[s], a.bandwidth_mhz[w], a.memory_gb[m]]
            )
            latency = floor[n, s, c, w, m]
            if (
                free.failure[n, s, c, w, m] in (COMPLETED, DEADLINE_EXCEEDED)
                and a.memory_gb[m] >= st.kv_need_gb[n]
                and latency <= st.t_max_s[n]
                and tasks.tenant_slots[n, s] < servers.max_parallel[s]
                and np.all(use <= servers.capacity[:, s] - tasks.tenant_use[n, :, s] + hs.TOLERANCE)
            ):
                release = st.now_s[n] + min(latency, st.t_max_s[n])
                value = 1.0 / latency + servers.pass_at_100[s] - scenario.reward.failure_reward
                mine.append((s, use, release, value))
        options.append(mine)

    best = [0, 0.0]

    def walk(n: int, placed: list, count: int, value: float) -> None:
        if n == len(options):
            best[0] = max(best[0], count)
            best[1] = max(best[1], value)
            return
        walk(n + 1, placed, count, value)
        for s, use, release, v in options[n]:
            held = sum((u for (s2, u, r2) in placed if s2 == s and r2 > st.now_s[n]), np.zeros(3))
            left = servers.capacity[:, s] - tasks.tenant_use[n, :, s]
            if np.all(held + use <= left + hs.TOLERANCE):
                walk(n + 1, [*placed, (s, use, release)], count + 1, value + v)

    walk(0, [], 0, 0.0)
    return best[0], best[1]


@pytest.mark.parametrize("tenants", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_solve_equals_brute_force_of_the_relaxation(tenants, seed):
    scenario = _tiny(tenants)
    sim = make_sim(scenario, seed)
    tasks = sim.episode_tasks(0)
    most, value = _brute_force(tasks, sim.servers, scenario)
    done, paid = (
        hs.solve(hs.candidates(tasks, sim.servers, scenario, objective), objective)
        for objective in ("completion", "reward")
    )
    assert done.bound == most and done.optimal and done.planned_value == most
    assert paid.bound == pytest.approx(value, rel=1e-5) and paid.optimal
    assert (done.plan[:, 0] >= 0).sum() == most


def test_the_tiny_episodes_bind():
    """The brute-force test above is only worth something if resources bind in some episodes."""
    bounds = []
    for tenants, seed in itertools.product([False, True], range(4)):
        scenario = _tiny(tenants)
        sim = make_sim(scenario, seed)
        cand = hs.candidates(sim.episode_tasks(0), sim.servers, scenario, "completion")
        bounds.append((hs.solve(cand, "completion").bound, np.unique(cand.task).size))
    assert any(b < possible for b, possible in bounds)


def test_latency_floor_is_below_every_real_latency():
    """Random actions on a loaded hidden world (queueing, tenants): the floor never exceeds the
    latency the simulator gives a task that holds its KV cache."""
    scenario = load_scenario("paper-hidden", load_percent=200.0)
    sim = make_sim(scenario, [5, 6])
    tasks = [sim.episode_tasks(i) for i in range(2)]
    nvec = sim.action_nvec
    floors = [
        hs.latency_floor_s(
            t,
            sim.servers,
            scenario,
            outcome.evaluate(t.states, sim.servers, scenario, *action_grid(nvec)),
        )
        for t in tasks
    ]
    rng = np.random.default_rng(0)
    queued = 0
    for k in range(sim.num_tasks):
        action = rng.integers(0, nvec, size=(2, 4))
        result = sim.step(action)
        for row in range(2):
            holds = scenario.actions.memory_gb[action[row, 3]] >= tasks[row].states.kv_need_gb[k]
            if holds and result.failure[row] in (COMPLETED, DEADLINE_EXCEEDED):
                assert floors[row][(k, *action[row])] <= result.latency_s[row] + 1e-12
                queued += result.queueing_s[row] > 0
    assert queued > 0  # queueing happened, so the floor was tested where it matters


def test_floor_is_the_queue_free_latency_for_fixed_terminals_and_downlink_matches_outcome():
    scenario = load_scenario("paper")
    sim = make_sim(scenario, 3)
    tasks = sim.episode_tasks(0)
    free = outcome.evaluate(tasks.states, sim.servers, scenario, *action_grid(sim.action_nvec))
    floor = hs.latency_floor_s(tasks, sim.servers, scenario, free)
    fixed = np.linalg.norm(tasks.states.terminal_velocity_m_s, axis=-1) == 0
    assert fixed.any() and (~fixed).any()
    np.testing.assert_allclose(floor[fixed], free.latency_s[fixed], rtol=1e-12)
    assert np.all(floor <= free.latency_s + 1e-12)
    # Downlink + way back at the queue-free d2, as outcome.evaluate computes them.
    st = tasks.states
    motion = (st.terminal_start_m, st.terminal_velocity_m_s, st.terminal_low_m, st.terminal_high_m)
    position = positions_at(*(x[:, None, None, None, None] for x in motion), free.compute_end_s)
    d2 = np.linalg.norm(position - sim.servers.position_m[None, :, None, None, None], axis=-1)
    uplink = st.request_bits[:, None, None, None, None] / st.uplink_rate_bps[:, :, None, :, None]
    there = channel.propagation_delay_s(st.distance_m) + sim.servers.backhaul_one_way_s
    back = free.transmission_s - uplink + free.propagation_s - there[:, :, None, None, None]
    np.testing.assert_allclose(
        hs.downlink_time_s(tasks, sim.servers, scenario, d2), back, rtol=1e-9
    )


def _play(agent_name: str, scenario, seeds, *, tasks=None):
    """One episode of every seed; returns the runner's summary (agent statistics included)."""
    env = CloudEdgeLLMVectorEnv(len(seeds), scenario)
    observation, _ = env.reset(seed=list(seeds))
    context = EnvContext(
        env.scenario.nominal_view(), env.core.sim.action_nvec, env.core.layout, len(seeds)
    )
    agent = make_agent(agent_name, context, seeds=list(seeds))
    summary, _, _ = _play_episode(env, agent, observation, on_step=None)
    return summary


@pytest.mark.parametrize("name", ["paper", "paper-hidden"])
def test_bound_is_above_every_rule_and_the_oracle(name):
    scenario = load_scenario(name, load_percent=200.0)
    episode = scenario.episode.model_copy(update={"tasks_per_episode": 20})
    scenario = scenario.model_copy(update={"episode": episode})  # 40 tasks at twice the load
    seeds = [11, 12]
    mine = _play("hindsight@time=2", scenario, seeds)  # any time limit gives a valid bound
    bound, reward_bound = mine["bound_completion_rate"], mine["bound_sum_reward"]
    assert np.all(mine["completion_rate"] <= bound + 1e-12)
    assert np.all(mine["sum_reward"] <= reward_bound + 1e-9)
    others = ["random", "round-robin", "cloud-only", "edge-only", "greedy", "oracle"]
    below = []
    for agent in others:
        theirs = _play(agent, scenario, seeds)
        assert np.all(theirs["completion_rate"] <= bound + 1e-12), agent
        assert np.all(theirs["sum_reward"] <= reward_bound + 1e-9), agent
        below.append(theirs["completion_rate"] < bound)
    assert np.any(below)  # the bound is not vacuous: some policy falls short of it


def test_runner_shows_the_episode_to_hindsight_only_and_it_is_the_played_one(monkeypatch):
    seen = []

    class Recorder(AGENTS["random"]):
        name = "recorder"
        needs_episode_truth = True

        def see_episode(self, episodes):
            seen.append(("see", [e.states.kv_need_gb.copy() for e in episodes]))

        def act(self, observation, truth=None):
            seen.append(("act", None))
            return super().act(observation, truth)

    class Blind(AGENTS["random"]):
        name = "blind"

        def see_episode(self, episodes):
            raise AssertionError("a blind agent was shown the episode")

    monkeypatch.setitem(AGENTS, "recorder", Recorder)
    monkeypatch.setitem(AGENTS, "blind", Blind)
    scenario = _tiny(tenants=False)
    run_agent("blind", scenario, [0], 2)
    run_agent("recorder", scenario, [0, 1], 2, eval_episodes=1)
    kinds = [k for k, _ in seen]
    assert kinds == ["see", "act", "act", "act", "act"] * 3
    # The episode shown is the one about to be played (its tasks' KV needs, drawn per episode),
    # the first and, after the autoreset, the second training episode.
    env = CloudEdgeLLMVectorEnv(2, scenario)
    env.reset(seed=[0, 1], options={"world_seeds": [0, 1]})
    shown = [payload for kind, payload in seen if kind == "see"]
    np.testing.assert_array_equal(shown[0][1], env.core.sim._kv_need_gb[1])
    for _ in range(4):
        env.step(np.zeros((2, 4), dtype=np.int64))
    np.testing.assert_array_equal(shown[1][0], env.core.sim._kv_need_gb[0])
    assert not np.array_equal(shown[0][0], shown[1][0])


def test_episode_tasks_are_copies():
    sim = make_sim(_tiny(tenants=True), 0)
    tasks = sim.episode_tasks(0)
    before = sim.arrival_s[0].copy(), sim._tenant_use[0].copy()
    tasks.states.now_s[:] = -1.0
    tasks.tenant_use[:] = -1.0
    np.testing.assert_array_equal(sim.arrival_s[0], before[0])
    np.testing.assert_array_equal(sim._tenant_use[0], before[1])


def test_hindsight_is_deterministic_and_refuses_without_the_episode():
    scenario = _tiny(tenants=True, tasks=8)
    first = _play("hindsight", scenario, [3, 4])
    again = _play("hindsight", scenario, [3, 4])
    for key in first:
        if key != "solve_time_s":
            np.testing.assert_array_equal(first[key], again[key], err_msg=key)
    env = CloudEdgeLLMVectorEnv(1, scenario)
    observation, _ = env.reset(seed=0)
    context = EnvContext(scenario, env.core.sim.action_nvec, env.core.layout, 1)
    agent = make_agent("hindsight", context, seeds=[0])
    with pytest.raises(RuntimeError, match="see_episode"):
        agent.act(observation, env.oracle_outcomes())
    agent.see_episode(env.episode_tasks())
    with pytest.raises(ValueError, match="truth"):
        agent.act(observation)
