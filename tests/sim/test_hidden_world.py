"""The hidden world in the simulator: output lengths unknown at dispatch, the KV-cache rule, other
tenants in the resources and slots, hidden speeds, child streams and world seeds, the nominal view."""

from __future__ import annotations

import numpy as np
import pytest

from aif_offload.scenarios import ScenarioError, load_scenario
from aif_offload.sim.llm_latency import kv_cache_bytes
from aif_offload.sim.outcome import (
    DEADLINE_EXCEEDED,
    KV_CACHE_OVERFLOW,
    MEMORY_BELOW_KV_NEED,
)
from aif_offload.sim.simulator import BatchedSimulator
from aif_offload.sim.tenants import stationary_mean_gpus
from tests.sim.helpers import actions_for, edited, make_sim, paper, server_index


def unknown_lengths(prediction: str = "band", **tokens) -> object:
    def edit(t):
        lengths = dict(output_median=200.0, output_sigma=0.5, output_min=16, output_max=1024)
        t["tokens"].update(output_distribution="lognormal", **{**lengths, **tokens})
        t["observation"].update(output_prediction=prediction, mode="full", report_noise_std=0.0)
        t["actions"]["memory_gb"] = [0.05, 0.1, 0.125, 0.25, 0.5, 1.0]

    return edited(edit)


def test_lognormal_output_lengths_have_their_median_and_log_sd():
    sim = make_sim(unknown_lengths(output_max=100_000, output_min=1), list(range(40)))
    log_true = np.log(sim.output_tokens)  # 40 x 100 tasks; the context cap is far above
    assert np.exp(np.median(log_true)) == pytest.approx(200.0, rel=0.05)
    assert log_true.std() == pytest.approx(0.5, rel=0.05)


def test_a_band_prediction_is_the_middle_of_the_true_lengths_band():
    sim = make_sim(unknown_lengths("band"), list(range(10)))
    true, told = sim.output_tokens, sim.predicted_output_tokens
    band = np.floor(np.log2(true) + 1e-9)
    assert np.all((2.0**band <= true) & (true < 2.0 ** (band + 1)))
    np.testing.assert_array_equal(told, np.rint(2.0 ** (band + 0.5)))


def test_a_noisy_prediction_has_a_log_normal_error():
    scenario = unknown_lengths("noisy", output_min=100, output_max=100_000)
    sim = make_sim(scenario, list(range(40)))
    error = np.log(sim.predicted_output_tokens / sim.output_tokens)
    assert error.mean() == pytest.approx(0.0, abs=0.02)
    assert error.std() == pytest.approx(0.5, rel=0.05)


def test_the_observation_carries_the_prediction_and_the_reply_follows_the_true_length():
    sim = make_sim(unknown_lengths("band"), [3])
    view = sim.agent_view()
    assert view.output_tokens[0] == sim.predicted_output_tokens[0, 0]
    tokens = sim.scenario.tokens
    told_kb = (
        sim.predicted_output_tokens[0, 0] * tokens.bytes_per_token + tokens.header_bytes
    ) / 1e3
    assert view.reply_kb[0] == pytest.approx(told_kb)
    true_bits = 8 * (sim.output_tokens[0, 0] * tokens.bytes_per_token + tokens.header_bytes)
    assert sim.task_state().reply_bits[0] == pytest.approx(true_bits)


def test_a_kv_cache_that_outgrows_its_reservation_fails_when_it_is_full():
    scenario = unknown_lengths("band")
    sim = make_sim(scenario, list(range(8)))
    state = sim.task_state()
    kv_prompt = kv_cache_bytes(sim.model, sim.prompt_tokens[:, 0]) / 1e9
    kv_need = state.kv_need_gb
    edge = server_index(sim, "edge-1")
    for memory in scenario.actions.memory_gb:
        result = sim.evaluate(actions_for(sim, edge, 1.0, 5.0, memory), state)
        full = sim.evaluate(actions_for(sim, edge, 1.0, 5.0, 1.0), state)
        for b in range(sim.batch_size):
            if memory < kv_prompt[b]:
                assert result.failure[b] == MEMORY_BELOW_KV_NEED
            elif memory < kv_need[b]:
                # Ends after the share of the output that fit, with no reply sent.
                share = (memory - kv_prompt[b]) / (kv_need[b] - kv_prompt[b])
                assert result.compute_s[b] == pytest.approx(full.compute_s[b] * share)
                assert result.failure[b] in (KV_CACHE_OVERFLOW, DEADLINE_EXCEEDED)
                assert result.latency_s[b] < full.latency_s[b]
                assert result.reward[b] == 0.0
            else:
                assert result.failure[b] == full.failure[b]
    # An overflowing task holds its resources until its cache is full.
    overflow = sim.evaluate(actions_for(sim, edge, 1.0, 5.0, 0.1), state)
    rows = np.flatnonzero(overflow.failure == KV_CACHE_OVERFLOW)
    assert rows.size
    sim.step(actions_for(sim, edge, 1.0, 5.0, 0.1), state)
    held = sim.reservations.release_s[rows, edge].max(axis=-1)
    np.testing.assert_allclose(held, state.now_s[rows] + overflow.latency_s[rows])


def test_with_known_lengths_the_memory_rule_is_the_papers():
    sim = make_sim(paper(), [0])
    assert sim.task_state().kv_prompt_gb is None
    np.testing.assert_array_equal(sim.predicted_output_tokens, sim.output_tokens)


def tenant_scenario(rate: float = 0.4, **service) -> object:
    def edit(t):
        t["hidden"] = {
            "tenants": {
                "edge-1": {
                    "mean_job_s": 30.0,
                    "regimes": [{"name": "busy", "arrival_per_s": rate, "mean_dwell_s": 100.0}],
                }
            },
            "service": service,
        }
        t["observation"].update(mode="full", report_noise_std=0.0)

    return edited(edit)


def test_tenants_take_gpus_memory_and_slots_from_the_agent():
    sim = make_sim(tenant_scenario(), list(range(6)))
    edge = server_index(sim, "edge-1")
    busy = sim.truth()["true_tenant_gpus"][:, edge]
    assert busy.max() > 0
    left = sim.remaining()
    cap = sim.servers.capacity
    np.testing.assert_allclose(left[:, 0, edge], cap[0, edge] - busy * sim.servers.gpu_tflops[edge])
    np.testing.assert_allclose(left[:, 2, edge], cap[2, edge] * (1 - busy / 9))
    np.testing.assert_allclose(left[:, 1, edge], cap[1, edge])  # radio bandwidth is the agent's
    view = sim.agent_view()
    np.testing.assert_allclose(view.remaining_fraction, left / cap[None])  # reports show them
    other = server_index(sim, "edge-2")
    np.testing.assert_allclose(left[:, :, other], cap[None, :, other].repeat(6, axis=0))


def test_slots_held_by_tenants_delay_the_agents_tasks():
    sim = make_sim(tenant_scenario(rate=5.0), [1])  # tenants hold nearly every GPU
    edge = server_index(sim, "edge-1")
    held = sim._tenant_slots[0, 0, edge]
    assert held >= 1
    sim.slots.free_at_s[0, edge, : sim.servers.max_parallel[edge]] = np.arange(18) + 100.0
    start = sim.task_state().earliest_free_s[0, edge]
    expected = 100.0 + held if held < 18 else sim.now_s()[0] + sim.scenario.episode.t_max_s
    assert start == pytest.approx(expected)


def test_hidden_speeds_scale_the_true_compute_time():
    base = make_sim(paper(), [5])
    slow = make_sim(tenant_scenario(rate=0.0, speed_sigma=0.4, task_sigma=0.2), [5])
    ratio = slow._full_time_s / base._full_time_s
    np.testing.assert_allclose(ratio, slow._time_factor)
    assert not np.allclose(ratio, 1.0)


def test_new_draws_come_from_child_streams_so_paper_draws_do_not_move():
    base = make_sim(paper(), [0, 1])
    hidden = make_sim(tenant_scenario(speed_sigma=0.3), [0, 1])
    for name in ("arrival_s", "terminal", "prompt_tokens", "output_tokens", "_distance_m"):
        np.testing.assert_array_equal(getattr(base, name), getattr(hidden, name), err_msg=name)
    np.testing.assert_array_equal(base._report_noise, hidden._report_noise)


def test_a_world_seed_fixes_the_server_speeds_across_episodes():
    scenario = tenant_scenario(rate=0.0, speed_sigma=0.5)
    sim = BatchedSimulator(scenario, batch_size=2)
    sim.reset([10, 11], world_seeds=[7, 7])
    first = sim._speed_factor[:, 0].copy()
    np.testing.assert_array_equal(first[0], first[1])  # one world, two workloads
    sim.reset([12, 13])  # new workloads keep their world
    np.testing.assert_array_equal(sim._speed_factor[:, 0], first)
    sim.reset([12, 13], world_seeds=[8, 9])
    assert not np.allclose(sim._speed_factor[:, 0], first)


def test_the_nominal_view_keeps_no_hidden_truth():
    scenario = paper()
    assert scenario.nominal_view() is scenario
    hidden = load_scenario("paper-hidden")
    view = hidden.nominal_view()
    assert not view.hidden.tenants and not view.hidden.service.varies
    for name, cfg in hidden.hidden.tenants.items():
        assert view.nominal.tenant_gpus[name] == pytest.approx(stationary_mean_gpus(cfg, 9))
    assert view.model_dump(exclude={"hidden", "nominal"}) == hidden.model_dump(
        exclude={"hidden", "nominal"}
    )


def test_an_operator_may_be_told_a_wrong_tenant_load():
    def edit(t):
        t["hidden"] = {
            "tenants": {
                "edge-1": {
                    "mean_job_s": 10.0,
                    "regimes": [{"name": "busy", "arrival_per_s": 0.5, "mean_dwell_s": 10.0}],
                }
            }
        }
        t["nominal"] = {"tenant_gpus": {"edge-1": 1.0}}

    assert edited(edit).nominal_view().nominal.tenant_gpus == {"edge-1": 1.0}


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (
            lambda t: t.update(
                hidden={
                    "tenants": {
                        "nowhere": {
                            "mean_job_s": 1.0,
                            "regimes": [{"name": "a", "arrival_per_s": 1.0, "mean_dwell_s": 1.0}],
                        }
                    }
                }
            ),
            "hidden.tenants.nowhere",
        ),
        (
            lambda t: t.update(
                hidden={
                    "tenants": {
                        "edge-1": {
                            "mean_job_s": 1.0,
                            "max_gpus": 10,
                            "regimes": [{"name": "a", "arrival_per_s": 1.0, "mean_dwell_s": 1.0}],
                        }
                    }
                }
            ),
            "max_gpus",
        ),
        (lambda t: t.update(hidden={"service": {"throttle_speed": 0.0}}), "throttle_speed"),
        (lambda t: t["observation"].update(output_prediction="psychic"), "output_prediction"),
        (lambda t: t.update(nominal={"tenant_gpus": {"edge-1": 99.0}}), "nominal.tenant_gpus"),
    ],
)
def test_bad_hidden_fields_are_one_line_errors_naming_the_field(edit, field):
    with pytest.raises(ScenarioError) as err:
        edited(edit)
    message = str(err.value)
    assert field in message and "\n" not in message


def test_agents_are_built_from_the_nominal_view():
    from aif_offload.agents import AGENTS, Agent
    from aif_offload.experiment.runner import run_agent

    seen = []

    class Spy(Agent):
        name = "spy-nominal"
        summary = "Records the scenario it is built from."

        def act(self, observation, truth=None):
            seen.append(self.context.scenario)
            return np.zeros((observation.shape[0], 4), dtype=np.int64)

    AGENTS[Spy.name] = Spy
    try:
        run_agent(Spy.name, load_scenario("paper-hidden"), [0], 1)
    finally:
        del AGENTS[Spy.name]
    assert seen and not seen[0].hidden.tenants and not seen[0].hidden.service.varies
