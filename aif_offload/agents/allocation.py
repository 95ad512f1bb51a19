"""Shared pieces of the rule agents: the nominal allocation and a latency forecast from observations."""

from __future__ import annotations

import numpy as np

from aif_offload.agents.base import EnvContext
from aif_offload.sim import channel, outcome
from aif_offload.sim.llm_latency import full_gpu_compute_time_s, kv_cache_bytes
from aif_offload.sim.outcome import Outcome, TaskState
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.simulator import action_grid
from aif_offload.sim.topology import Servers, build_servers, model_spec


class Forecaster:
    """Predicts each action's outcome from the observation alone, with the scenario's nominal model.

    It knows the scenario (servers, latency model, radio constants) but not the hidden state: it
    assumes mean channel gain (no shadowing), a ground-to-ground link, a terminal that stays put, no
    queue, and that the reported remaining resources are the truth.
    """

    def __init__(self, context: EnvContext) -> None:
        self.context = context
        self.servers: Servers = build_servers(context.scenario)
        self._model = model_spec(context.scenario)
        actions = context.scenario.actions
        self.levels = (
            np.asarray(actions.compute_shares),
            np.asarray(actions.bandwidth_mhz),
            np.asarray(actions.memory_gb),
        )

    def kv_need_gb(self, observation: np.ndarray) -> np.ndarray:
        layout = self.context.layout
        tokens = np.rint(
            1000
            * (
                layout.get(observation, "prompt_ktokens")
                + layout.get(observation, "output_ktokens")
            )
        )
        return kv_cache_bytes(self._model, tokens) / 1e9

    def task_state(self, observation: np.ndarray) -> TaskState:
        layout, scenario = self.context.layout, self.context.scenario
        b, s = observation.shape[0], self.servers.num_servers
        prompt = np.rint(1000 * layout.get(observation, "prompt_ktokens")).astype(np.int64)
        output = np.rint(1000 * layout.get(observation, "output_ktokens")).astype(np.int64)
        full_time = np.stack(
            [full_gpu_compute_time_s(p, prompt, output) for p in self.servers.profiles], axis=-1
        )
        fractions = [
            layout.get(observation, name)
            for name in ("remaining_compute", "remaining_bandwidth", "remaining_memory")
        ]
        remaining = np.stack(fractions, axis=1) * self.servers.capacity[None]
        distance = 1000.0 * layout.get(observation, "distance_km").astype(float)
        no_shadowing = np.zeros((b, s))
        uplink, slope, budget = outcome.link_terms(
            scenario,
            self.servers,
            distance,
            np.full((b, s), channel.GROUND_GROUND),
            no_shadowing,
            no_shadowing,
        )
        here = np.zeros(
            (b, 3)
        )  # motion unknown: the reply is forecast over d1 (terminal_moves=False)
        return TaskState(
            now_s=np.zeros(b),
            terminal_start_m=here,
            terminal_velocity_m_s=here,
            terminal_low_m=here,
            terminal_high_m=here,
            distance_m=distance,
            uplink_rate_bps=uplink,
            downlink_slope_db=slope,
            downlink_budget_db=budget,
            request_bits=8000.0 * layout.get(observation, "request_kb").astype(float),
            reply_bits=8000.0 * layout.get(observation, "reply_kb").astype(float),
            full_gpu_time_s=full_time,
            kv_need_gb=self.kv_need_gb(observation),
            t_max_s=layout.get(observation, "t_max_s").astype(float),
            remaining=remaining,
            earliest_free_s=np.full((b, s), -np.inf),
            terminal_moves=False,
        )

    def forecast_all(self, observation: np.ndarray) -> Outcome:
        """Predicted outcome of every action: arrays (B, S, C, W, M)."""
        return outcome.evaluate(
            self.task_state(observation),
            self.servers,
            self.context.scenario,
            *action_grid(self.context.action_nvec),
        )

    def nominal_allocation(self, observation: np.ndarray, server: np.ndarray) -> np.ndarray:
        """Whole-GPU compute, the smallest bandwidth, the smallest memory that holds the KV cache."""
        shares, _, memories = self.levels
        fits = memories[None, :] >= self.kv_need_gb(observation)[:, None]
        memory = np.where(fits.any(axis=1), fits.argmax(axis=1), memories.size - 1)
        b = observation.shape[0]
        return np.stack(
            [server, np.full(b, shares.size - 1), np.zeros(b, dtype=np.int64), memory], axis=1
        ).astype(np.int64)


# Actions whose value is within 1 % of the best count as equally good; among them the thriftiest
# is taken, so a rule does not hoard bandwidth for a 1 ms gain and block the next tasks.
NEAR_BEST = 0.01


def best_flat_action(score: np.ndarray) -> np.ndarray:
    """(B, S, C, W, M) scores -> (B, 4) index of the best action per environment."""
    b = score.shape[0]
    flat = score.reshape(b, -1).argmax(axis=1)
    return np.stack(np.unravel_index(flat, score.shape[1:]), axis=1).astype(np.int64)


def resource_use(scenario: Scenario) -> np.ndarray:
    """(1, 1, C, W, M) sum over the three resources of each level relative to the largest level."""
    actions = scenario.actions
    levels = [
        np.asarray(x) for x in (actions.compute_shares, actions.bandwidth_mhz, actions.memory_gb)
    ]
    shapes = ((1, 1, -1, 1, 1), (1, 1, 1, -1, 1), (1, 1, 1, 1, -1))
    return sum((lv / lv.max()).reshape(shape) for lv, shape in zip(levels, shapes, strict=True))


def thriftiest_near_best(value: np.ndarray, scenario: Scenario) -> np.ndarray:
    """Among actions within NEAR_BEST of the best ``value`` (B, S, C, W, M), the one using least."""
    b = value.shape[0]
    best = value.reshape(b, -1).max(axis=1).reshape((b,) + (1,) * (value.ndim - 1))
    near_best = value >= best - NEAR_BEST * np.abs(best)
    # Lexicographic: fewest resources among the near-best, then the higher value.
    return best_flat_action(np.where(near_best, -resource_use(scenario) + 1e-6 * value, -np.inf))


def observation_mask(context: EnvContext, observation: np.ndarray, *, flat: bool) -> np.ndarray:
    """The environment's action mask, recomputed from the observation alone (it uses nothing else).

    Flat: the joint mask (B, S*C*W*M); otherwise sb3-contrib's per-dimension masks joined.
    """
    forecaster = Forecaster(context)
    state = forecaster.task_state(observation)
    joint = outcome.fits(context.scenario, forecaster.servers, state.remaining, state.kv_need_gb)
    b = joint.shape[0]
    joint[~joint.reshape(b, -1).any(axis=1)] = True  # nothing fits: leave every action open
    if flat:
        return joint.reshape(b, -1)
    dims = range(1, 5)
    return np.concatenate([joint.any(axis=tuple(a for a in dims if a != d)) for d in dims], axis=1)
