"""The batched simulator and ``outcome.evaluate``: eq. 8 latency, failures, eq. 14 reward, eq. 11
guidance, resource accounting, seeding, and the paper's deadline regimes via the oracle."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from aif_offload.experiment.runner import run_agent
from aif_offload.sim import outcome
from aif_offload.sim.outcome import (
    COMPLETED,
    DEADLINE_EXCEEDED,
    MEMORY_BELOW_KV_NEED,
    OUT_OF_BANDWIDTH,
    OUT_OF_COMPUTE,
    OUT_OF_MEMORY,
)
from aif_offload.sim.simulator import BatchedSimulator
from aif_offload.sim.topology import BANDWIDTH, COMPUTE, MEMORY
from tests.sim.helpers import (
    actions_for,
    assert_outcomes_equal,
    edited,
    make_sim,
    outcome_row,
    paper,
    random_actions,
    reflect_by_events,
    server_index,
)

C = 299_792_458.0
# GPT-J-6B KV cache per token: K and V x 2 bytes x head_dim 256 x 16 heads x 28 layers.
KV_BYTES_PER_TOKEN = 2 * 2 * 256 * 16 * 28
PASS_CLOUD, PASS_EDGE = 0.1159, 0.1892


def current(sim: BatchedSimulator, field: str) -> np.ndarray:
    """(B,) value of a per-task array for every environment's current task."""
    k = np.minimum(sim.task_index, sim.num_tasks - 1)
    return getattr(sim, field)[np.arange(sim.batch_size), k]


# ------------------------------------------------------------------------ eq. 8 latency breakdown
@pytest.mark.parametrize("seed", [0, 1])
def test_latency_is_sum_of_its_parts_for_every_action(seed: int) -> None:
    sim = make_sim(paper(), [seed, seed + 10, seed + 20])
    rng = np.random.default_rng(seed)
    checked = 0
    while not sim.done.any():
        if sim.task_index[0] % 7 == 0:  # a sample of steps, with queues and reservations built up
            o = sim.evaluate_all()
            total = o.transmission_s + o.propagation_s + o.queueing_s + o.compute_s
            np.testing.assert_allclose(o.latency_s, total, rtol=1e-12, atol=0)
            for part in (o.transmission_s, o.propagation_s, o.compute_s, o.latency_s):
                assert np.all(np.isfinite(part)) and np.all(part > 0)
            assert np.all(o.queueing_s >= 0)
            np.testing.assert_allclose(o.compute_end_s, o.service_start_s + o.compute_s)
            assert np.all(o.service_start_s >= sim.now_s()[:, None, None, None, None])
            checked += 1
        sim.step(random_actions(sim, rng))
    assert checked >= 10


def test_compute_time_scales_inversely_with_share() -> None:
    sim = make_sim(paper(), [3, 4])
    o = sim.evaluate_all()
    shares = list(sim.scenario.actions.compute_shares)
    full = o.compute_s[:, :, shares.index(1.0)]
    np.testing.assert_allclose(o.compute_s[:, :, shares.index(0.5)], 2.0 * full, rtol=1e-12)
    np.testing.assert_allclose(o.compute_s[:, :, shares.index(0.25)], 4.0 * full, rtol=1e-12)
    np.testing.assert_allclose(o.compute_s[:, :, shares.index(0.75)], full / 0.75, rtol=1e-12)
    # Compute does not depend on bandwidth or memory levels.
    np.testing.assert_array_equal(
        o.compute_s, np.broadcast_to(o.compute_s[..., :1, :1], o.compute_s.shape)
    )


def roofline_full_gpu_s(scenario, gpu: str, accelerated: bool, p: int, o: int) -> float:
    """Closed form when every decode step is memory-bound: max(prefill terms) + sum of decodes."""
    g, m, serving = scenario.gpus[gpu], scenario.model, scenario.serving
    bw = g.memory_bandwidth_gbps * 1e9 * serving.memory_efficiency
    flops = g.peak_fp16_tflops * 1e12 * serving.compute_efficiency
    weights = m.num_params * m.bytes_per_param
    step_compute = 2 * m.num_params / flops
    assert step_compute < weights / bw  # premise: decode is memory-bound
    prefill = max(weights / bw, 2 * m.num_params * p / flops)
    decode = (o * weights + KV_BYTES_PER_TOKEN * (o * p + o * (o - 1) / 2)) / bw
    slowdown = 1.0 if accelerated else serving.unaccelerated_slowdown
    return slowdown * (prefill + decode)


def test_compute_time_matches_roofline_closed_form_per_server() -> None:
    scenario = paper()
    sim = make_sim(scenario, [5, 6])
    rng = np.random.default_rng(0)
    full_share = list(scenario.actions.compute_shares).index(1.0)
    for _ in range(5):
        o = sim.evaluate_all()
        prompt, output = current(sim, "prompt_tokens"), current(sim, "output_tokens")
        for b in range(sim.batch_size):
            for s, server in enumerate(scenario.servers):
                expected = roofline_full_gpu_s(
                    scenario, server.gpu, server.accelerated, int(prompt[b]), int(output[b])
                )
                assert o.compute_s[b, s, full_share, 0, 0] == pytest.approx(expected, rel=1e-9)
        sim.step(random_actions(sim, rng))


def test_compute_times_match_the_papers_tiers() -> None:
    """Shortest cloud inference just over 2 s, shortest edge inference just over 9 s (section 1)."""
    sim = make_sim(paper(), list(range(4)))
    full_share = list(sim.scenario.actions.compute_shares).index(1.0)
    cloud = server_index(sim, "cloud")
    times = []
    while not sim.done.any():
        times.append(sim.evaluate_all().compute_s[:, :, full_share, 0, 0])
        sim.step(actions_for(sim, 0, 0.25, 1.0, 0.125))  # KV-starved: nothing is reserved
    times = np.stack(times)  # (N, B, S)
    edge = [i for i in range(sim.servers.num_servers) if i != cloud]
    assert 2.0 < times[..., cloud].min() < 3.0
    assert 9.0 < times[..., edge].min() < 11.0


# ---------------------------------------------------------------------------------- failures
def expected_failure(sim: BatchedSimulator, o, b: int, s: int, c: int, w: int, m: int) -> int:
    """The failure rules written out for one action, from sim.remaining() and a hand KV need."""
    a = sim.scenario.actions
    left = sim.remaining()[b]
    need_gb = (
        KV_BYTES_PER_TOKEN
        * (int(current(sim, "prompt_tokens")[b]) + int(current(sim, "output_tokens")[b]))
        / 1e9
    )
    if a.compute_shares[c] * sim.servers.gpu_tflops[s] > left[COMPUTE, s] + 1e-9:
        return OUT_OF_COMPUTE
    if a.bandwidth_mhz[w] > left[BANDWIDTH, s] + 1e-9:
        return OUT_OF_BANDWIDTH
    if a.memory_gb[m] > left[MEMORY, s] + 1e-9:
        return OUT_OF_MEMORY
    if a.memory_gb[m] < need_gb:
        return MEMORY_BELOW_KV_NEED
    if o.latency_s[b, s, c, w, m] > sim.scenario.episode.t_max_s:
        return DEADLINE_EXCEEDED
    return COMPLETED


def assert_failures_follow_rules(sim: BatchedSimulator) -> np.ndarray:
    o = sim.evaluate_all()
    for b in range(sim.batch_size):
        for idx in np.ndindex(*sim.action_nvec):
            assert o.failure[(b, *idx)] == expected_failure(sim, o, b, *idx), (b, idx)
    return o.failure


def test_failure_grid_follows_rules_through_an_episode() -> None:
    sim = make_sim(paper(t_max_s=12.0), [21, 22])
    rng = np.random.default_rng(1)
    seen = set()
    while not sim.done.any():
        if sim.task_index[0] % 9 == 0:
            seen |= set(np.unique(assert_failures_follow_rules(sim)).tolist())
        # Mostly modest allocations so several reservations pile up on the same servers.
        sim.step(random_actions(sim, rng))
    assert {COMPLETED, MEMORY_BELOW_KV_NEED, DEADLINE_EXCEEDED} <= seen


def test_memory_below_kv_need() -> None:
    levels = [0.1, 0.13, 0.15, 0.18, 0.2, 0.25, 0.3, 0.4]
    scenario = edited(lambda t: t["actions"].update(memory_gb=levels))
    sim = make_sim(scenario, [0, 1, 2, 3])
    below_seen = above_seen = 0
    for _ in range(40):
        # Fresh resources for every check: this action never fits (0.1 GB < any KV need).
        o = sim.evaluate_all()
        need = (
            KV_BYTES_PER_TOKEN
            * (current(sim, "prompt_tokens") + current(sim, "output_tokens"))
            / 1e9
        )
        for b in range(sim.batch_size):
            for m, gb in enumerate(levels):
                failures = o.failure[b, :, :, :, m]
                if gb < need[b]:
                    assert np.all(failures == MEMORY_BELOW_KV_NEED)
                    below_seen += 1
                else:
                    assert not np.any(failures == MEMORY_BELOW_KV_NEED)
                    above_seen += 1
        result = sim.step(actions_for(sim, 1, 1.0, 1.0, 0.1))
        assert np.all(result.failure == MEMORY_BELOW_KV_NEED)
        np.testing.assert_array_equal(
            sim.remaining(), np.broadcast_to(sim.servers.capacity, sim.remaining().shape)
        )
    assert below_seen > 0 and above_seen > 0


def fill(sim: BatchedSimulator, actions: np.ndarray, steps: int) -> None:
    for _ in range(steps):
        result = sim.step(actions)
        assert np.all(result.admitted), outcome.FAILURE_REASONS[int(result.failure[0])]


def test_out_of_compute_after_filling_an_edge_with_whole_gpus() -> None:
    sim = make_sim(paper(), 0)
    edge = server_index(sim, "edge-1")
    whole = actions_for(sim, edge, 1.0, 1.0, 1.0)
    gpus = sim.scenario.servers[edge].num_gpus
    fill(sim, whole, gpus)  # 9 tasks of a whole RTX 3090 each, all still running
    assert sim.remaining()[0, COMPUTE, edge] == pytest.approx(0.0, abs=1e-9)
    before = sim.remaining().copy()
    failures = assert_failures_follow_rules(sim)
    assert np.all(failures[0, edge] == OUT_OF_COMPUTE)  # even a quarter GPU is too much
    result = sim.step(actions_for(sim, edge, 0.25, 1.0, 1.0))
    assert result.failure[0] == OUT_OF_COMPUTE
    assert result.reward[0] == 0.0 and result.guidance[0] == 0.0 and result.accuracy[0] == 0.0
    np.testing.assert_allclose(sim.remaining(), before)  # a refused task reserves nothing
    # Other servers are untouched.
    other = server_index(sim, "edge-2")
    np.testing.assert_allclose(sim.remaining()[0, :, other], sim.servers.capacity[:, other])


def test_out_of_bandwidth_after_filling_the_cloud_link() -> None:
    sim = make_sim(paper(), 1)
    cloud = server_index(sim, "cloud")
    fill(sim, actions_for(sim, cloud, 0.25, 5.0, 1.0), 4)  # 4 x 5 MHz = all 20 MHz
    assert sim.remaining()[0, BANDWIDTH, cloud] == pytest.approx(0.0, abs=1e-9)
    failures = assert_failures_follow_rules(sim)
    assert np.all(failures[0, cloud] == OUT_OF_BANDWIDTH)
    assert sim.step(actions_for(sim, cloud, 0.25, 1.0, 1.0)).failure[0] == OUT_OF_BANDWIDTH


def test_out_of_memory_on_a_small_memory_edge() -> None:
    def small_gpu(t):
        t["gpus"]["rtx-3090"]["memory_gb"] = 12.1 + 0.5  # 0.5 GB of KV memory per GPU

    sim = make_sim(edited(small_gpu), 2)
    edge = server_index(sim, "edge-3")
    assert sim.servers.capacity[MEMORY, edge] == pytest.approx(4.5)
    fill(sim, actions_for(sim, edge, 0.25, 1.0, 1.0), 4)
    assert sim.remaining()[0, MEMORY, edge] == pytest.approx(0.5)
    failures = assert_failures_follow_rules(sim)
    mem = list(sim.scenario.actions.memory_gb)
    assert np.all(failures[0, edge, :, :, mem.index(1.0)] == OUT_OF_MEMORY)
    assert not np.any(failures[0, edge, :, :, mem.index(0.5)] == OUT_OF_MEMORY)
    assert sim.step(actions_for(sim, edge, 0.25, 1.0, 1.0)).failure[0] == OUT_OF_MEMORY


def test_resource_checks_come_first_in_order() -> None:
    """Nothing left anywhere: compute is reported first, then bandwidth, then memory."""
    sim = make_sim(paper(), 0)
    state = sim.task_state()
    srv = np.zeros(1, dtype=np.int64)
    a = sim.scenario.actions
    big = [
        np.array([len(levels) - 1]) for levels in (a.compute_shares, a.bandwidth_mhz, a.memory_gb)
    ]

    def failure_with(remaining: np.ndarray) -> int:
        s = dataclasses.replace(state, remaining=remaining[None])
        return int(outcome.evaluate(s, sim.servers, sim.scenario, srv, *big).failure[0])

    cap = sim.servers.capacity.copy()
    empty = cap * 0.0
    assert failure_with(empty) == OUT_OF_COMPUTE
    only_compute = empty.copy()
    only_compute[COMPUTE] = cap[COMPUTE]
    assert failure_with(only_compute) == OUT_OF_BANDWIDTH
    no_memory = cap.copy()
    no_memory[MEMORY] = 0.0
    assert failure_with(no_memory) == OUT_OF_MEMORY
    exact = cap.copy()  # exactly what is asked is enough
    exact[:, 0] = [
        a.compute_shares[-1] * sim.servers.gpu_tflops[0],
        a.bandwidth_mhz[-1],
        a.memory_gb[-1],
    ]
    assert failure_with(exact) == COMPLETED


# -------------------------------------------------------------------- deadline, reward, guidance
def test_deadline_reward_and_guidance() -> None:
    sim = make_sim(paper(t_max_s=5.0), [0, 1])
    edge, cloud = server_index(sim, "edge-2"), server_index(sim, "cloud")
    now = sim.now_s().copy()
    o = sim.evaluate_all()
    mem = list(sim.scenario.actions.memory_gb)
    # Edge: more than 9 s of compute, so every KV-feasible allocation misses a 5 s deadline.
    edge_fail = o.failure[:, edge, :, :, mem.index(1.0)]
    assert np.all(edge_fail == DEADLINE_EXCEEDED)
    assert np.all(o.latency_s[:, edge] > 5.0)
    assert np.all(o.reward[:, edge, :, :, mem.index(1.0)] == 0.0)
    assert np.all(o.guidance[:, edge] == 0.0)
    assert np.all(o.accuracy[:, edge] == 0.0)
    # Cloud with a whole GPU and 5 MHz makes it; reward is eq. 14, guidance eq. 11.
    r = sim.step(actions_for(sim, cloud, 1.0, 5.0, 1.0))
    assert np.all(r.failure == COMPLETED)
    assert np.all(r.latency_s <= 5.0)
    expected = 1.0 / r.latency_s + PASS_CLOUD
    np.testing.assert_allclose(r.reward, expected, rtol=1e-12)
    np.testing.assert_allclose(r.guidance, expected, rtol=1e-12)
    np.testing.assert_array_equal(r.accuracy, PASS_CLOUD)
    # The completed task holds its resources until its reply is delivered.
    res = sim.reservations
    for b in range(2):
        held = res.release_s[b, cloud][res.occupied[b, cloud]]
        np.testing.assert_allclose(held, [now[b] + r.latency_s[b]], rtol=1e-12)
    # An edge task is admitted, runs and is abandoned at the deadline: held for exactly t_max.
    now2 = sim.now_s().copy()
    r2 = sim.step(actions_for(sim, edge, 1.0, 5.0, 1.0))
    assert np.all(r2.failure == DEADLINE_EXCEEDED)
    assert np.all(r2.reward == 0.0) and np.all(r2.guidance == 0.0)
    for b in range(2):
        held = res.release_s[b, edge][res.occupied[b, edge]]
        np.testing.assert_allclose(held, [now2[b] + 5.0], rtol=1e-12)


def test_edge_reward_uses_edge_accuracy_and_failure_reward_is_configurable() -> None:
    scenario = edited(lambda t: t["reward"].update(failure_reward=-1.0))
    sim = make_sim(scenario, [4])
    edge = server_index(sim, "edge-4")
    ok = sim.step(actions_for(sim, edge, 1.0, 5.0, 1.0))
    assert ok.failure[0] == COMPLETED
    assert ok.reward[0] == pytest.approx(1.0 / ok.latency_s[0] + PASS_EDGE, rel=1e-12)
    assert ok.guidance[0] == ok.reward[0]
    assert ok.accuracy[0] == PASS_EDGE
    bad = sim.step(actions_for(sim, edge, 1.0, 5.0, 0.125))  # below the KV need
    assert bad.failure[0] == MEMORY_BELOW_KV_NEED
    assert bad.reward[0] == -1.0
    assert bad.guidance[0] == 0.0  # eq. 11: tc = 0, whatever the failure reward


# ----------------------------------------------------------------- eq. 3-8 end to end, by hand
def _hand_link_s(bits: float, w_hz: float, p_dbm: float, pl_db: float) -> float:
    noise = -174.0 + 10 * math.log10(w_hz) + 9.0
    snr = 10 ** ((p_dbm + 15.0 - pl_db - noise) / 10)
    return bits / (w_hz * math.log2(1 + snr))


def _pl(kind: int, d: float) -> float:
    d = max(d, 10.0)
    return (
        128.1 + 37.6 * math.log10(d / 1000),
        22.0 * math.log10(d) + 34.0,
        20.0 * math.log10(d) + 38.5,
    )[kind]


@pytest.mark.parametrize("terminal", ["ground", "uav"])
def test_transmission_and_propagation_by_hand(terminal: str) -> None:
    """One terminal pinned at a corner, no shadowing: eq. 8's first two terms from eqs. 3-7."""

    def pin(t):
        term = t["terminals"]
        term.update(n_fixed=0, n_ground_mobile=0, n_air=0, area_m=[1e-6, 1e-6])
        if terminal == "ground":
            term["n_fixed"] = 1
        else:
            term.update(n_air=1, air_speed_m_s=[0.0, 0.0], air_altitude_m=[200.0, 200.0])
        t["radio"].update(shadowing_gg_db=0.0, shadowing_ga_db=0.0, shadowing_aa_db=0.0)
        t["servers"][4]["position_m"] = [1500.0, 1500.0, 150.0]  # an airborne relay site

    scenario = edited(pin)
    z = 1.5 if terminal == "ground" else 200.0
    sim = make_sim(scenario, [0, 1])
    for _ in range(3):
        o = sim.evaluate_all()
        prompt, output = current(sim, "prompt_tokens"), current(sim, "output_tokens")
        for s, server in enumerate(scenario.servers):
            x, y, h = server.position_m
            d = math.sqrt(x * x + y * y + (h - z) ** 2)
            kind = int(z > 100) + int(h > 100)
            for b in range(sim.batch_size):
                up_bits = 8 * (int(prompt[b]) * 4 + 1024)
                down_bits = 8 * (int(output[b]) * 4 + 1024)
                for w, mhz in enumerate(scenario.actions.bandwidth_mhz):
                    hz = mhz * 1e6
                    expected = _hand_link_s(up_bits, hz, 23.0, _pl(kind, d)) + _hand_link_s(
                        down_bits, hz, server.tx_power_dbm, _pl(kind, d)
                    )
                    got = o.transmission_s[b, s, :, w, :]
                    np.testing.assert_allclose(got, expected, rtol=1e-6)
                prop = 2 * d / C + 2 * server.backhaul_one_way_s
                np.testing.assert_allclose(o.propagation_s[b, s], prop, rtol=1e-6)
        assert np.all(o.queueing_s == 0.0)  # nothing queued yet on these fresh servers
        sim.step(actions_for(sim, 0, 0.25, 1.0, 0.125))  # refused (KV): keeps servers empty


def test_reply_goes_to_where_the_terminal_has_moved() -> None:
    """d2 of eq. 8: the downlink and return propagation use the position at compute end."""

    def moving(t):
        t["terminals"].update(n_fixed=0, n_ground_mobile=4, n_air=0, ground_speed_m_s=[14, 15])
        t["radio"].update(shadowing_gg_db=0.0)

    scenario = edited(moving)
    sim = make_sim(scenario, [8])
    prompt, output = int(sim.prompt_tokens[0, 0]), int(sim.output_tokens[0, 0])
    start, velocity, low, high = (sim._motion[i, 0, 0] for i in range(4))

    def where(t: float) -> np.ndarray:
        return np.array(
            [reflect_by_events(start[i], velocity[i], low[i], high[i], t) for i in range(3)]
        )

    o = sim.evaluate_all()
    for s, server in enumerate(scenario.servers):
        pos_s = np.array(server.position_m)
        d1 = float(np.linalg.norm(where(sim.now_s()[0]) - pos_s))
        for c in range(len(scenario.actions.compute_shares)):
            end = float(o.compute_end_s[0, s, c, 0, 0])
            d2 = float(np.linalg.norm(where(end) - pos_s))
            hz = scenario.actions.bandwidth_mhz[0] * 1e6
            expected = _hand_link_s(8 * (prompt * 4 + 1024), hz, 23.0, _pl(0, d1)) + _hand_link_s(
                8 * (output * 4 + 1024), hz, server.tx_power_dbm, _pl(0, d2)
            )
            assert o.transmission_s[0, s, c, 0, 0] == pytest.approx(expected, rel=1e-6)
            prop = (d1 + d2) / C + 2 * server.backhaul_one_way_s
            assert o.propagation_s[0, s, c, 0, 0] == pytest.approx(prop, rel=1e-6)
    # The terminal really moved (10+ s at 14+ m/s), so d2 differs from d1 for at least one server.
    assert not np.allclose(o.propagation_s[0, :, 0], o.propagation_s[0, :, -1])


def test_queue_wait_with_one_processing_slot() -> None:
    """With max_parallel = 1 a second task starts exactly when the first one's compute ends."""

    def one_slot(t):
        t["servers"][0]["max_parallel"] = 1

    sim = make_sim(edited(one_slot), [0, 1, 2])
    cloud = server_index(sim, "cloud")
    first = sim.step(actions_for(sim, cloud, 0.5, 5.0, 1.0))
    assert np.all(first.completed) and np.all(first.queueing_s == 0.0)
    second = sim.step(actions_for(sim, cloud, 0.5, 5.0, 1.0))
    assert np.all(second.completed)
    arrival_at_server = second.service_start_s - second.queueing_s
    assert np.all(arrival_at_server < first.compute_end_s)  # it had to wait
    np.testing.assert_allclose(second.service_start_s, first.compute_end_s, rtol=1e-12)
    np.testing.assert_allclose(
        second.queueing_s, first.compute_end_s - arrival_at_server, rtol=1e-9
    )
    # The same request on an 18-slot edge does not wait.
    edge = server_index(sim, "edge-1")
    o = sim.evaluate(actions_for(sim, edge, 0.5, 5.0, 1.0))
    assert np.all(o.queueing_s == 0.0)


# ------------------------------------------------------------------- invariants over episodes
def _run_with_ledger(seed: int, batch: int = 8) -> None:
    scenario = paper()
    sim = make_sim(scenario, [seed * 100 + i for i in range(batch)])
    rng = np.random.default_rng(seed)
    cap = sim.servers.capacity
    t_max = scenario.episode.t_max_s
    ledger: list[list[tuple[int, float, float, np.ndarray]]] = [[] for _ in range(batch)]
    counts = np.zeros(batch, dtype=int)
    failures = np.zeros(len(outcome.FAILURE_REASONS), dtype=int)
    n = sim.num_tasks
    for k in range(n):
        assert not sim.done.any()
        np.testing.assert_array_equal(sim.task_index, k)
        now = sim.now_s().copy()
        actions = random_actions(sim, rng)
        result = sim.step(actions)
        counts += 1
        np.add.at(failures, result.failure, 1)
        a = scenario.actions
        for b in np.flatnonzero(result.admitted):
            s, c, w, m = actions[b]
            amount = np.array(
                [
                    a.compute_shares[c] * sim.servers.gpu_tflops[s],
                    a.bandwidth_mhz[w],
                    a.memory_gb[m],
                ]
            )
            release = now[b] + min(result.latency_s[b], t_max)
            ledger[b].append((s, now[b], release, amount))
        remaining = sim.remaining()
        assert np.all(remaining >= -1e-9), remaining.min()
        assert np.all(remaining <= cap[None] + 1e-9)
        later = sim.now_s()  # the next task's issue time (the last one's after the end)
        for b in range(batch):
            held = np.zeros_like(cap)
            for s, _, release, amount in ledger[b]:
                if release > later[b]:
                    held[:, s] += amount
            np.testing.assert_allclose(remaining[b], cap - held, atol=1e-8)
    # Every issued task was counted exactly once; the episode is over only now.
    np.testing.assert_array_equal(counts, n)
    assert sim.done.all()
    assert failures.sum() == n * batch
    assert failures[COMPLETED] > 0 and failures[[OUT_OF_COMPUTE, OUT_OF_BANDWIDTH]].sum() > 0
    with pytest.raises(RuntimeError, match="episode is over"):
        sim.step(random_actions(sim, rng))
    # Every held reservation matches one admitted task: finite release after its admission.
    res = sim.reservations
    final = sim.now_s()
    for b in range(batch):
        for s in range(sim.servers.num_servers):
            held = np.sort(res.release_s[b, s][res.occupied[b, s]])
            assert np.all(np.isfinite(held))
            expected = sorted(r for srv, _, r, _ in ledger[b] if srv == s and r > final[b])
            np.testing.assert_allclose(held, expected, rtol=1e-12)
            admitted_at = [t for srv, t, r, _ in ledger[b] if srv == s and r > final[b]]
            assert all(r > t for r, t in zip(expected, admitted_at, strict=True))
    # Advancing time past every release frees everything.
    horizon = np.max(res.release_s, initial=0.0, where=res.occupied) + 1.0
    res.release(np.full(batch, horizon))
    np.testing.assert_allclose(sim.remaining(), np.broadcast_to(cap, sim.remaining().shape))
    # A fresh reset restores full capacity and free processing slots.
    sim.reset([seed + 1000 + i for i in range(batch)])
    np.testing.assert_array_equal(sim.remaining(), np.broadcast_to(cap, sim.remaining().shape))
    assert not sim.done.any() and not res.occupied.any()
    assert np.all(sim.slots.earliest_free_s() == -np.inf)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resource_ledger_over_random_episodes(seed: int) -> None:
    _run_with_ledger(seed)


def test_task_count_scales_with_load_and_done_only_at_the_end() -> None:
    sim = make_sim(paper(load_percent=150), [0, 1])
    assert sim.num_tasks == 150
    for k in range(150):
        np.testing.assert_array_equal(sim.task_index, k)
        assert not sim.done.any()
        sim.step(actions_for(sim, 0, 0.25, 1.0, 0.125))
    assert sim.done.all()
    with pytest.raises(RuntimeError):
        sim.step(actions_for(sim, 0, 0.25, 1.0, 0.125))
    sim.reset([5, 6])
    assert not sim.done.any()
    sim.step(actions_for(sim, 0, 0.25, 1.0, 0.125))


def test_using_an_unseeded_simulator_raises() -> None:
    sim = BatchedSimulator(paper(), 2)
    with pytest.raises(RuntimeError, match="reset"):
        sim.task_state()
    with pytest.raises(ValueError, match="batch_size"):
        BatchedSimulator(paper(), 0)


# ------------------------------------------------------------------------------- determinism
def _trajectory(sim: BatchedSimulator, actions_seq: list[np.ndarray]):
    views, outcomes = [], []
    for actions in actions_seq:
        views.append(sim.agent_view())
        outcomes.append(sim.step(actions))
    return views, outcomes


def test_same_seeds_same_actions_same_outcomes() -> None:
    scenario = paper()
    seeds = [3, 1, 4, 1_000_003]
    rng = np.random.default_rng(9)
    a = make_sim(scenario, seeds)
    b = make_sim(scenario, seeds)
    actions = [random_actions(a, rng) for _ in range(a.num_tasks)]
    views_a, outs_a = _trajectory(a, actions)
    views_b, outs_b = _trajectory(b, actions)
    for va, vb, oa, ob in zip(views_a, views_b, outs_a, outs_b, strict=True):
        assert_outcomes_equal(oa, ob)
        for f in dataclasses.fields(va):
            np.testing.assert_array_equal(getattr(va, f.name), getattr(vb, f.name))
    # A different seed gives a different episode.
    c = make_sim(scenario, [5, 1, 4, 1_000_003])
    assert not np.array_equal(c.prompt_tokens[0], a.prompt_tokens[0])
    np.testing.assert_array_equal(c.prompt_tokens[1:], a.prompt_tokens[1:])


@pytest.mark.parametrize("mode", ["partial", "full"])
def test_trajectory_independent_of_batch_composition(mode: str) -> None:
    scenario = edited(lambda t: t["observation"].update(mode=mode))
    alone = make_sim(scenario, [7])
    batch = make_sim(scenario, [11, 12, 13, 7, 14])
    rng = np.random.default_rng(2)
    for _ in range(alone.num_tasks):
        mine = random_actions(alone, rng)
        others = random_actions(batch, rng)
        others[3] = mine[0]
        v1, v5 = alone.agent_view(), batch.agent_view()
        for f in dataclasses.fields(v1):
            np.testing.assert_array_equal(getattr(v1, f.name)[0], getattr(v5, f.name)[3])
        o1, o5 = outcome_row(alone.step(mine), 0), outcome_row(batch.step(others), 3)
        for f in o1:
            np.testing.assert_array_equal(o1[f], o5[f], err_msg=f)


def test_partial_reset_mid_episode_matches_a_fresh_environment() -> None:
    scenario = paper()
    batch = make_sim(scenario, [1, 2, 3, 4])
    rng = np.random.default_rng(3)
    for _ in range(30):
        batch.step(random_actions(batch, rng))
    batch.reset([7], envs=np.array([2]))  # env 2 restarts while the others are at task 30
    np.testing.assert_array_equal(batch.task_index, [30, 30, 0, 30])
    np.testing.assert_array_equal(batch.remaining()[2], batch.servers.capacity)
    alone = make_sim(scenario, [7])
    for _ in range(batch.num_tasks - 30):
        mine = random_actions(alone, rng)
        others = random_actions(batch, rng)
        others[2] = mine[0]
        v1, v4 = alone.agent_view(), batch.agent_view()
        for f in dataclasses.fields(v1):
            np.testing.assert_array_equal(getattr(v1, f.name)[0], getattr(v4, f.name)[2])
        o1, o4 = outcome_row(alone.step(mine), 0), outcome_row(batch.step(others), 2)
        for f in o1:
            np.testing.assert_array_equal(o1[f], o4[f], err_msg=f)


# ---------------------------------------------------------------- the paper's regimes (oracle)
@pytest.mark.parametrize(
    ("t_max", "low", "high"),
    [(2.0, 0.0, 0.0), (5.0, 0.0, 0.25), (9.0, 0.0, 0.25), (15.0, 0.95, 1.0)],
)
def test_oracle_reproduces_deadline_regimes(t_max: float, low: float, high: float) -> None:
    results = run_agent("oracle", paper(t_max_s=t_max), seeds=[0, 1], episodes=1)
    assert len(results) == 2
    for r in results:
        rate = float(r.metrics["completion_rate"][0])
        assert low <= rate <= high, (t_max, r.seed, rate)


# ------------------------------------------------------------------- workload seen by the sim
def test_requests_come_from_every_terminal_at_its_own_position() -> None:
    def fixed_only(t):
        t["terminals"].update(n_fixed=6, n_ground_mobile=0, n_air=0)

    sim = make_sim(edited(fixed_only), [0, 1])
    seen: dict[tuple[int, int], np.ndarray] = {}
    while not sim.done.any():
        d = sim.task_state().distance_m
        who = current(sim, "terminal")
        for b in range(sim.batch_size):
            key = (b, int(who[b]))
            if key in seen:
                np.testing.assert_array_equal(d[b], seen[key])  # a fixed terminal stays put
            seen[key] = d[b].copy()
        sim.step(actions_for(sim, 0, 0.25, 1.0, 0.125))
    for b in range(sim.batch_size):
        terminals = [k[1] for k in seen if k[0] == b]
        assert sorted(terminals) == list(range(6))  # 100 uniform draws hit all 6
        rows = np.array([seen[(b, i)] for i in terminals])
        assert len({tuple(r) for r in rows.round(6)}) == 6  # six different places


@pytest.mark.parametrize("load", [100.0, 150.0])
def test_arrival_times(load: float) -> None:
    gap = 0.22 * 100.0 / load
    per_step = make_sim(paper(load_percent=load), [0, 1])
    n = per_step.num_tasks
    np.testing.assert_allclose(per_step.arrival_s, np.tile(np.arange(n) * gap, (2, 1)))
    for arrival in ("poisson", "trace"):
        scenario = edited(lambda t, a=arrival: t["episode"].update(arrival=a, load_percent=load))
        sim = make_sim(scenario, list(range(20)))
        t = sim.arrival_s
        assert np.all(t[:, 0] == 0.0) and np.all(np.isfinite(t))
        assert np.all(np.diff(t, axis=1) >= 0.0)
        mean_gap = t[:, -1].mean() / (n - 1)
        if arrival == "trace":  # rescaled to the scenario's mean gap, window by window
            np.testing.assert_allclose(t[:, -1] / (n - 1), gap, rtol=0.05)
        else:
            assert mean_gap == pytest.approx(gap, rel=0.05)
            assert np.std(np.diff(t, axis=1)) == pytest.approx(gap, rel=0.1)  # exponential


def test_fits_agrees_with_the_resource_failures() -> None:
    sim = make_sim(paper(), [0, 1, 2])
    rng = np.random.default_rng(4)
    resource_failures = [OUT_OF_COMPUTE, OUT_OF_BANDWIDTH, OUT_OF_MEMORY, MEMORY_BELOW_KV_NEED]
    while not sim.done.any():
        state = sim.task_state()
        o = sim.evaluate_all(state)
        ok = outcome.fits(sim.scenario, sim.servers, state.remaining, state.kv_need_gb)
        np.testing.assert_array_equal(ok, ~np.isin(o.failure, resource_failures))
        sim.step(random_actions(sim, rng), state)


def test_abandoned_task_frees_its_processing_slot_at_the_deadline() -> None:
    def one_slot(t):
        t["servers"][0]["max_parallel"] = 1
        t["episode"]["t_max_s"] = 5.0

    sim = make_sim(edited(one_slot), [0, 1])
    cloud = server_index(sim, "cloud")
    now1 = sim.now_s().copy()
    first = sim.step(actions_for(sim, cloud, 0.25, 5.0, 1.0))  # about 8.7 s: misses 5 s
    assert np.all(first.failure == DEADLINE_EXCEEDED)
    assert np.all(first.compute_end_s > now1 + 5.0)
    second = sim.evaluate(actions_for(sim, cloud, 1.0, 5.0, 1.0))
    # The slot is given up when the first task is abandoned, not when its compute would end.
    np.testing.assert_allclose(second.service_start_s, now1 + 5.0, rtol=1e-12)


@pytest.mark.parametrize("delay", [0, 2, 5])
def test_partial_observation_is_the_true_load_some_steps_ago(delay: int) -> None:
    """With zero noise a partial report equals the exact (full-mode) fraction ``delay`` tasks ago."""

    def observe(mode: str, noise: float):
        def edit(t):
            t["observation"].update(mode=mode, report_delay_steps=delay, report_noise_std=noise)

        return edited(edit)

    seeds = [0, 1, 2]
    full = make_sim(observe("full", 0.0), seeds)
    exact = make_sim(observe("partial", 0.0), seeds)
    noisy = make_sim(observe("partial", 0.05), seeds)
    rng = np.random.default_rng(delay)
    history = []
    deviations = []
    while not full.done.any():
        truth = full.agent_view().remaining_fraction
        history.append(truth)
        lagged = history[max(0, len(history) - 1 - delay)]
        np.testing.assert_allclose(exact.agent_view().remaining_fraction, lagged, atol=1e-12)
        reported = noisy.agent_view().remaining_fraction
        assert np.all((reported >= 0.0) & (reported <= 1.0))
        deviations.append(reported - lagged)
        actions = random_actions(full, rng)
        for sim in (full, exact, noisy):
            sim.step(actions)
    dev = np.concatenate([d.ravel() for d in deviations])
    assert 0.02 < np.std(dev) < 0.06  # about the configured 0.05, less where clipped at 0 or 1
    assert np.all(np.abs(dev) < 0.05 * 6)


def test_second_episode_after_reset_equals_a_fresh_simulator() -> None:
    """No state leaks across a reset: queues, reservations and load reports all start afresh."""
    scenario = edited(lambda t: t["observation"].update(report_delay_steps=3))
    used = make_sim(scenario, [40, 41])
    rng = np.random.default_rng(6)
    while not used.done.any():
        used.step(random_actions(used, rng))
    used.reset([50, 51])
    fresh = make_sim(scenario, [50, 51])
    actions = [random_actions(fresh, rng) for _ in range(fresh.num_tasks)]
    views_u, outs_u = _trajectory(used, actions)
    views_f, outs_f = _trajectory(fresh, actions)
    for vu, vf, ou, of in zip(views_u, views_f, outs_u, outs_f, strict=True):
        assert_outcomes_equal(ou, of)
        for f in dataclasses.fields(vu):
            np.testing.assert_array_equal(getattr(vu, f.name), getattr(vf, f.name))
