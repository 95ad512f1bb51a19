"""The simulator's step as pure JAX functions: functional state, one environment, vmap for a batch.

The semantics are those of :class:`aif_offload.sim.simulator.BatchedSimulator` (the NumPy core stays
the reference the tests compare to). An episode's action-independent arrays (:class:`Episode`, built
at reset by :mod:`aif_offload.sim.jax_reset` or copied from a NumPy simulator) and the mutable part
(:class:`SimState`: reservations, processing slots, load reports) are pytrees of one environment;
:class:`JaxCore` holds the scenario's constants and the pure functions ``evaluate``, ``step`` and
``agent_view`` over them. ``jax.vmap`` batches them, ``jax.jit`` compiles a step, ``lax.scan`` an episode.

Precision: under ``jax.enable_x64(True)`` every array is float64 and outcomes match the NumPy core
to rounding (the tests require 1e-9 relative). In JAX's default float32 the continuous fields agree
to about 1e-5 relative and a failure code can differ where a latency lies within float32 rounding of
the deadline or a request within it of what is left (the capacity checks' 1e-9 slack is below float32
resolution).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from aif_offload.sim.channel import SPEED_OF_LIGHT_M_S
from aif_offload.sim.outcome import (
    COMPLETED,
    DEADLINE_EXCEEDED,
    KV_CACHE_OVERFLOW,
    MEMORY_BELOW_KV_NEED,
    OUT_OF_BANDWIDTH,
    OUT_OF_COMPUTE,
    OUT_OF_MEMORY,
)
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.topology import COMPUTE, MEMORY, build_servers, reservation_slots

CAPACITY_TOLERANCE = 1e-9  # as the NumPy core's admission checks


class Episode(NamedTuple):
    """Action-independent arrays of one episode of N tasks on S servers (W bandwidth levels)."""

    arrival_s: jax.Array  # (N,)
    terminal: jax.Array  # (N,) int, index of the requesting terminal
    start_m: jax.Array  # (N, 3) unfolded motion of each task's requester
    velocity_m_s: jax.Array  # (N, 3)
    low_m: jax.Array  # (N, 3)
    high_m: jax.Array  # (N, 3)
    distance_m: jax.Array  # (N, S) d1 at issue time
    uplink_bps: jax.Array  # (N, S, W)
    down_slope_db: jax.Array  # (N, S)
    down_budget_db: jax.Array  # (N, S)
    request_bits: jax.Array  # (N,)
    reply_bits: jax.Array  # (N,) from the true output length
    predicted_reply_bits: jax.Array  # (N,) from the predicted one (what the agent sees)
    prompt_tokens: jax.Array  # (N,) float
    output_tokens: jax.Array  # (N,) float, true
    predicted_output_tokens: jax.Array  # (N,) float
    full_time_s: jax.Array  # (N, S) true compute time on a whole GPU
    kv_need_gb: jax.Array  # (N,) prompt + true output
    kv_prompt_gb: jax.Array  # (N,) prompt only (admission when outputs are unknown)
    report_noise_z: jax.Array  # (N, 3, S)
    tenant_use: jax.Array  # (N, 3, S) what other tenants hold (compute, -, memory)
    tenant_slots: jax.Array  # (N, S) int, processing slots held by other tenants
    tenant_gpus: jax.Array  # (N, S) truth, for info
    tenant_regime: jax.Array  # (N, S) int truth, -1 without tenants
    speed_factor: jax.Array  # (N, S) truth
    tenant_jumps_clipped: jax.Array  # () int, gaps whose jump count exceeded the cap (0 if exact)


class SimState(NamedTuple):
    """What the actions change, for one environment (K reservation entries, P slots per server)."""

    task_index: jax.Array  # () int
    occupied: jax.Array  # (S, K) bool
    release_s: jax.Array  # (S, K)
    amount: jax.Array  # (S, K, 3)
    in_use: jax.Array  # (S, 3)
    free_at_s: jax.Array  # (S, P), +inf beyond a server's max_parallel
    reports: jax.Array  # (N + 1, 3, S) true fractions left before each task


class Task(NamedTuple):
    """The current task and the true system state (the JAX counterpart of ``TaskState``)."""

    now_s: jax.Array
    start_m: jax.Array
    velocity_m_s: jax.Array
    low_m: jax.Array
    high_m: jax.Array
    distance_m: jax.Array
    uplink_bps: jax.Array
    down_slope_db: jax.Array
    down_budget_db: jax.Array
    request_bits: jax.Array
    reply_bits: jax.Array
    full_time_s: jax.Array
    kv_need_gb: jax.Array
    kv_prompt_gb: jax.Array
    t_max_s: jax.Array
    remaining: jax.Array  # (3, S)
    earliest_free_s: jax.Array  # (S,)


class AgentView(NamedTuple):
    """Fields and meaning of :class:`aif_offload.sim.simulator.AgentView`, one environment."""

    distance_km: jax.Array  # (S,)
    remaining_fraction: jax.Array  # (3, S)
    prompt_tokens: jax.Array
    output_tokens: jax.Array  # predicted
    request_kb: jax.Array
    reply_kb: jax.Array  # predicted
    t_max_s: jax.Array
    gap_s: jax.Array


class Outcome(NamedTuple):
    """Fields and meaning of :class:`aif_offload.sim.outcome.Outcome`."""

    transmission_s: jax.Array
    propagation_s: jax.Array
    queueing_s: jax.Array
    compute_s: jax.Array
    latency_s: jax.Array
    failure: jax.Array
    accuracy: jax.Array
    reward: jax.Array
    guidance: jax.Array
    service_start_s: jax.Array
    compute_end_s: jax.Array

    @property
    def completed(self) -> jax.Array:
        return self.failure == COMPLETED

    @property
    def admitted(self) -> jax.Array:
        f = self.failure
        return (f == COMPLETED) | (f == DEADLINE_EXCEEDED) | (f == KV_CACHE_OVERFLOW)


@dataclass(frozen=True, eq=False)
class JaxCore:
    """The scenario's constants and the pure per-environment functions over them.

    Instances hash by identity, so ``jax.jit`` of a bound method compiles once per core.
    """

    scenario: Scenario
    num_tasks: int = field(init=False)
    reservation_entries: int = field(init=False)
    action_nvec: tuple[int, int, int, int] = field(init=False)

    def __post_init__(self) -> None:
        sc = self.scenario
        servers = build_servers(sc)
        a = sc.actions
        gpus = np.array([s.num_gpus for s in sc.servers], dtype=float)
        per_tenant_gpu = np.zeros((3, servers.num_servers))
        per_tenant_gpu[COMPUTE] = servers.gpu_tflops
        per_tenant_gpu[MEMORY] = servers.capacity[MEMORY] / gpus
        set_ = object.__setattr__
        set_(self, "servers", servers)
        set_(self, "num_tasks", sc.episode.num_tasks)
        set_(self, "reservation_entries", reservation_slots(sc, servers))
        set_(
            self,
            "action_nvec",
            (servers.num_servers, len(a.compute_shares), len(a.bandwidth_mhz), len(a.memory_gb)),
        )
        set_(self, "per_tenant_gpu", per_tenant_gpu)
        set_(self, "slots_per_gpu", servers.max_parallel / gpus)

    # ------------------------------------------------------------------------------ state
    @property
    def tenants(self) -> bool:
        return bool(self.scenario.hidden.tenants)

    def initial_state(self, episode: Episode) -> SimState:
        """Every server idle (other tenants, if any, at their first state)."""
        s, k = self.servers.num_servers, self.reservation_entries
        mp = self.servers.max_parallel
        width = int(mp.max())
        dtype = episode.arrival_s.dtype
        free = np.where(np.arange(width)[None, :] < mp[:, None], -np.inf, np.inf)
        capacity = jnp.asarray(self.servers.capacity, dtype)
        first = jnp.ones((3, s), dtype)
        if self.tenants:
            first = jnp.maximum(capacity - episode.tenant_use[0], 0.0) / capacity
        reports = jnp.ones((self.num_tasks + 1, 3, s), dtype).at[0].set(first)
        return SimState(
            task_index=jnp.zeros((), jnp.int32),
            occupied=jnp.zeros((s, k), bool),
            release_s=jnp.zeros((s, k), dtype),
            amount=jnp.zeros((s, k, 3), dtype),
            in_use=jnp.zeros((s, 3), dtype),
            free_at_s=jnp.asarray(free, dtype),
            reports=reports,
        )

    def done(self, state: SimState) -> jax.Array:
        return state.task_index >= self.num_tasks

    def _row(self, state: SimState) -> jax.Array:
        return jnp.minimum(state.task_index, self.num_tasks - 1)

    def remaining(self, episode: Episode, state: SimState) -> jax.Array:
        """(3, S) true compute TFLOPS, bandwidth MHz and KV memory GB left now."""
        left = jnp.asarray(self.servers.capacity) - state.in_use.T
        if self.tenants:
            left = jnp.maximum(left - episode.tenant_use[self._row(state)], 0.0)
        return left

    def _earliest_start_s(self, episode: Episode, state: SimState, t_max_s) -> jax.Array:
        if not self.tenants:
            return state.free_at_s.min(axis=-1)
        k = self._row(state)
        held = episode.tenant_slots[k]
        order = jnp.sort(state.free_at_s, axis=-1)
        width = order.shape[-1]
        index = jnp.minimum(held, width - 1)[:, None]
        start = jnp.take_along_axis(order, index, axis=-1)[:, 0]
        abandon = episode.arrival_s[k] + t_max_s
        return jnp.where(held < jnp.asarray(self.servers.max_parallel), start, abandon)

    def task(self, episode: Episode, state: SimState, t_max_s) -> Task:
        """The current task and the true system state (``BatchedSimulator.task_state``)."""
        k = self._row(state)
        return Task(
            now_s=episode.arrival_s[k],
            start_m=episode.start_m[k],
            velocity_m_s=episode.velocity_m_s[k],
            low_m=episode.low_m[k],
            high_m=episode.high_m[k],
            distance_m=episode.distance_m[k],
            uplink_bps=episode.uplink_bps[k],
            down_slope_db=episode.down_slope_db[k],
            down_budget_db=episode.down_budget_db[k],
            request_bits=episode.request_bits[k],
            reply_bits=episode.reply_bits[k],
            full_time_s=episode.full_time_s[k],
            kv_need_gb=episode.kv_need_gb[k],
            kv_prompt_gb=episode.kv_prompt_gb[k],
            t_max_s=jnp.asarray(t_max_s, episode.arrival_s.dtype),
            remaining=self.remaining(episode, state),
            earliest_free_s=self._earliest_start_s(episode, state, t_max_s),
        )

    # ----------------------------------------------------------------------------- outcome
    def evaluate(self, task: Task, server, compute_level, bandwidth_level, memory_level) -> Outcome:
        """Outcome of the current task under these action indices (any broadcast shape)."""
        sv, sc = self.servers, self.scenario
        radio, levels = sc.radio, sc.actions
        server, compute_level, bandwidth_level, memory_level = jnp.broadcast_arrays(
            server, compute_level, bandwidth_level, memory_level
        )
        share = jnp.asarray(levels.compute_shares)[compute_level]
        bandwidth_mhz = jnp.asarray(levels.bandwidth_mhz)[bandwidth_level]
        memory_gb = jnp.asarray(levels.memory_gb)[memory_level]
        backhaul_s = jnp.asarray(sv.backhaul_one_way_s)[server]

        uplink_s = task.request_bits / task.uplink_bps[server, bandwidth_level]
        d1 = task.distance_m[server]
        there_s = d1 / SPEED_OF_LIGHT_M_S + backhaul_s
        at_server_s = task.now_s + uplink_s + there_s
        start_s = jnp.maximum(at_server_s, task.earliest_free_s[server])
        compute_s = task.full_time_s[server] / share
        compute_end_s = start_s + compute_s

        # Downlink to where the terminal is when the reply leaves (d2), reflecting in its box.
        unfolded = task.start_m + task.velocity_m_s * compute_end_s[..., None]
        span = jnp.maximum(task.high_m - task.low_m, 1e-12)
        phase = jnp.mod(unfolded - task.low_m, 2.0 * span)
        position = task.low_m + jnp.where(phase > span, 2.0 * span - phase, phase)
        offset = position - jnp.asarray(sv.position_m)[server]
        d2 = jnp.sqrt(jnp.sum(offset * offset, axis=-1))
        path_db = task.down_slope_db[server] * jnp.log10(jnp.maximum(d2, radio.min_distance_m))
        bandwidth_hz = bandwidth_mhz * 1e6
        noise_dbm = radio.noise_psd_dbm_hz + 10.0 * jnp.log10(bandwidth_hz) + radio.noise_figure_db
        snr = 10.0 ** ((task.down_budget_db[server] - path_db - noise_dbm) / 10.0)
        downlink_s = task.reply_bits / (bandwidth_hz * jnp.log2(1.0 + snr))
        back_s = d2 / SPEED_OF_LIGHT_M_S + backhaul_s

        transmission_s = uplink_s + downlink_s
        propagation_s = there_s + back_s
        queueing_s = start_s - at_server_s
        latency_s = transmission_s + propagation_s + queueing_s + compute_s

        known = sc.observation.output_known
        admission_gb = task.kv_need_gb if known else task.kv_prompt_gb
        failure = jnp.where(latency_s > task.t_max_s, DEADLINE_EXCEEDED, COMPLETED)
        failure = jnp.where(memory_gb < admission_gb, MEMORY_BELOW_KV_NEED, failure)
        asked_left = (
            (memory_gb, task.remaining[MEMORY], OUT_OF_MEMORY),
            (bandwidth_mhz, task.remaining[1], OUT_OF_BANDWIDTH),
            (share * jnp.asarray(sv.gpu_tflops)[server], task.remaining[COMPUTE], OUT_OF_COMPUTE),
        )
        for asked, left, reason in asked_left:  # the first failing check wins: applied last
            failure = jnp.where(asked > left[server] + CAPACITY_TOLERANCE, reason, failure)
        if not known:
            # The KV cache outgrows its reservation: the task ends after the decoding that fit.
            kv_prompt, kv_need = task.kv_prompt_gb, task.kv_need_gb
            overflow = (memory_gb < kv_need) & (memory_gb >= kv_prompt)
            fit = jnp.clip(
                (memory_gb - kv_prompt) / jnp.maximum(kv_need - kv_prompt, 1e-12), 0.0, 1.0
            )
            compute_s = jnp.where(overflow, compute_s * fit, compute_s)
            compute_end_s = start_s + compute_s
            transmission_s = jnp.where(overflow, uplink_s, transmission_s)
            propagation_s = jnp.where(overflow, there_s, propagation_s)
            latency_s = jnp.where(overflow, uplink_s + there_s + queueing_s + compute_s, latency_s)
            runs = overflow & ((failure == COMPLETED) | (failure == DEADLINE_EXCEEDED))
            late = latency_s > task.t_max_s
            failure = jnp.where(
                runs, jnp.where(late, DEADLINE_EXCEEDED, KV_CACHE_OVERFLOW), failure
            )
        failure = failure.astype(jnp.int8)
        completed = failure == COMPLETED
        pass_at_100 = jnp.asarray(sv.pass_at_100)[server]
        value = 1.0 / latency_s + pass_at_100
        return Outcome(
            transmission_s=transmission_s,
            propagation_s=propagation_s,
            queueing_s=queueing_s,
            compute_s=compute_s,
            latency_s=latency_s,
            failure=failure,
            accuracy=jnp.where(completed, pass_at_100, 0.0),
            reward=jnp.where(completed, value, sc.reward.failure_reward),
            guidance=jnp.where(completed, value, 0.0),
            service_start_s=start_s,
            compute_end_s=compute_end_s,
        )

    def evaluate_all(self, task: Task) -> Outcome:
        """Outcome of every action (S, C, W, M): the oracle's view."""
        grids = jnp.meshgrid(*(jnp.arange(n) for n in self.action_nvec), indexing="ij")
        return self.evaluate(task, *grids)

    # -------------------------------------------------------------------------------- step
    def step(
        self, episode: Episode, state: SimState, action: jax.Array, t_max_s
    ) -> tuple[SimState, Outcome]:
        """Dispatch the current task with ``action`` (4,) = server, compute, bandwidth, memory
        level indices, and advance. A finished episode must be reset first (not checked here)."""
        task = self.task(episode, state, t_max_s)
        server, c, w, m = (action[i] for i in range(4))
        result = self.evaluate(task, server, c, w, m)
        admitted = result.admitted
        levels = self.scenario.actions
        abandon = task.now_s + task.t_max_s
        amount = jnp.stack(
            [
                jnp.asarray(levels.compute_shares)[c]
                * jnp.asarray(self.servers.gpu_tflops)[server],
                jnp.asarray(levels.bandwidth_mhz)[w],
                jnp.asarray(levels.memory_gb)[m],
            ]
        ).astype(state.amount.dtype)
        # Reserve the first free entry of the server's table; it cannot be full, since every
        # admission takes at least the smallest allocation (see ``reservation_slots``).
        slot = jnp.argmax(~state.occupied[server])
        release = jnp.minimum(task.now_s + result.latency_s, abandon)
        occupied = state.occupied.at[server, slot].set(state.occupied[server, slot] | admitted)
        release_s = state.release_s.at[server, slot].set(
            jnp.where(admitted, release, state.release_s[server, slot])
        )
        amounts = state.amount.at[server, slot].set(
            jnp.where(admitted, amount, state.amount[server, slot])
        )
        in_use = state.in_use.at[server].add(jnp.where(admitted, amount, 0.0))
        # A task abandoned while still queued never takes a processing slot.
        runs = admitted & (result.service_start_s < abandon)
        p = jnp.argmin(state.free_at_s[server])
        busy_until = jnp.maximum(jnp.minimum(result.compute_end_s, abandon), result.service_start_s)
        free_at_s = state.free_at_s.at[server, p].set(
            jnp.where(runs, busy_until, state.free_at_s[server, p])
        )

        task_index = state.task_index + 1
        now = episode.arrival_s[jnp.minimum(task_index, self.num_tasks - 1)]
        ended = occupied & (release_s <= now)
        in_use = in_use - jnp.sum(jnp.where(ended[..., None], amounts, 0.0), axis=1)
        occupied = occupied & ~ended
        # Totals of servers left empty are exactly zero, whatever rounding the sums collected.
        in_use = jnp.where(occupied.any(axis=-1)[:, None], in_use, 0.0)
        new = SimState(task_index, occupied, release_s, amounts, in_use, free_at_s, state.reports)
        fraction = self.remaining(episode, new) / jnp.asarray(self.servers.capacity)
        reports = state.reports.at[jnp.minimum(task_index, self.num_tasks)].set(fraction)
        return new._replace(reports=reports), result

    # ------------------------------------------------------------------------- observation
    def agent_view(self, episode: Episode, state: SimState, t_max_s) -> AgentView:
        """What the agent observes: the exact load (full) or noisy, delayed reports (partial)."""
        obs_cfg = self.scenario.observation
        k = self._row(state)
        capacity = jnp.asarray(self.servers.capacity)
        if obs_cfg.mode == "full":
            reported = self.remaining(episode, state) / capacity
        else:
            lagged = jnp.maximum(k - obs_cfg.report_delay_steps, 0)
            noise = episode.report_noise_z[k] * obs_cfg.report_noise_std
            reported = jnp.clip(state.reports[lagged] + noise, 0.0, 1.0)
        return AgentView(
            distance_km=episode.distance_m[k] / 1000.0,
            remaining_fraction=reported,
            prompt_tokens=episode.prompt_tokens[k],
            output_tokens=episode.predicted_output_tokens[k],
            request_kb=episode.request_bits[k] / 8000.0,
            reply_kb=episode.predicted_reply_bits[k] / 8000.0,
            t_max_s=jnp.asarray(t_max_s, episode.arrival_s.dtype),
            gap_s=episode.arrival_s[k] - episode.arrival_s[jnp.maximum(k - 1, 0)],
        )

    def truth(self, episode: Episode, state: SimState, t_max_s) -> dict[str, jax.Array]:
        """The hidden state at the current task (``true_*`` keys of the env's info)."""
        k = self._row(state)
        capacity = jnp.asarray(self.servers.capacity)
        return {
            "true_load": 1.0 - self.remaining(episode, state) / capacity,
            "true_tenant_gpus": episode.tenant_gpus[k],
            "true_tenant_regime": episode.tenant_regime[k],
            "true_speed_factor": episode.speed_factor[k],
            "true_output_tokens": episode.output_tokens[k],
        }

    def rollout(
        self, episode: Episode, state: SimState, actions: jax.Array, t_max_s
    ) -> tuple[SimState, Outcome]:
        """A whole episode under ``lax.scan`` with fixed actions (N, 4): outcomes stacked (N,)."""

        def body(st, action):
            return self.step(episode, st, action, t_max_s)

        return jax.lax.scan(body, state, actions)


def episode_from_simulator(sim) -> Episode:
    """The current episodes of a NumPy :class:`BatchedSimulator` as a batched :class:`Episode`.

    For the equivalence tests and for driving the JAX step from the NumPy reset; reads the
    simulator's per-episode arrays (its private precompute) without changing them.
    """
    motion = sim._motion
    return Episode(
        arrival_s=sim.arrival_s,
        terminal=sim.terminal,
        start_m=motion[0],
        velocity_m_s=motion[1],
        low_m=motion[2],
        high_m=motion[3],
        distance_m=sim._distance_m,
        uplink_bps=sim._uplink_bps,
        down_slope_db=sim._down_slope_db,
        down_budget_db=sim._down_budget_db,
        request_bits=sim._request_bits,
        reply_bits=sim._reply_bits,
        predicted_reply_bits=sim._predicted_reply_bits,
        prompt_tokens=sim.prompt_tokens.astype(float),
        output_tokens=sim.output_tokens.astype(float),
        predicted_output_tokens=sim.predicted_output_tokens.astype(float),
        full_time_s=sim._full_time_s,
        kv_need_gb=sim._kv_need_gb,
        kv_prompt_gb=sim._kv_prompt_gb,
        report_noise_z=sim._report_noise,
        tenant_use=sim._tenant_use,
        tenant_slots=sim._tenant_slots,
        tenant_gpus=sim._tenant_gpus,
        tenant_regime=sim._tenant_regime,
        speed_factor=sim._speed_factor,
        tenant_jumps_clipped=np.zeros(sim.batch_size, dtype=np.int64),
    )
