"""What happens to a task under an allocation: eq. 8's latency breakdown, failure, reward, guidance.

Pure functions of the system's state at the task's issue time, broadcast over any action shape, so
the simulator applies them to the chosen action and the oracle to every action at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aif_offload.sim import channel
from aif_offload.sim.mobility import positions_at
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.topology import BANDWIDTH, COMPUTE, MEMORY, Servers

COMPLETED = 0
OUT_OF_COMPUTE = 1
OUT_OF_BANDWIDTH = 2
OUT_OF_MEMORY = 3
MEMORY_BELOW_KV_NEED = 4
DEADLINE_EXCEEDED = 5
KV_CACHE_OVERFLOW = 6
FAILURE_REASONS = (
    "completed",
    "out_of_compute",
    "out_of_bandwidth",
    "out_of_memory",
    "memory_below_kv_need",
    "deadline_exceeded",
    "kv_cache_overflow",
)


@dataclass(frozen=True)
class TaskState:
    """The current task and the system when it is issued; arrays lead with the batch B.

    The radio terms that do not depend on the action are already folded in: the uplink rate at
    every bandwidth level, and the downlink's path-loss slope and link budget, which only await the
    distance d2 at which the reply is sent.
    """

    now_s: np.ndarray  # (B,)
    terminal_start_m: np.ndarray  # (B, 3) unfolded motion of the requesting terminal
    terminal_velocity_m_s: np.ndarray  # (B, 3)
    terminal_low_m: np.ndarray  # (B, 3)
    terminal_high_m: np.ndarray  # (B, 3)
    distance_m: np.ndarray  # (B, S) d1 at issue time
    uplink_rate_bps: np.ndarray  # (B, S, W) at each bandwidth level
    downlink_slope_db: np.ndarray  # (B, S) path-loss slope per decade of distance
    downlink_budget_db: np.ndarray  # (B, S) P + g - PL intercept - shadowing, before distance
    request_bits: np.ndarray  # (B,) PS_x
    reply_bits: np.ndarray  # (B,) PS_y
    full_gpu_time_s: np.ndarray  # (B, S) compute time with a whole GPU of each server
    kv_need_gb: np.ndarray  # (B,)
    t_max_s: np.ndarray  # (B,)
    remaining: np.ndarray  # (B, 3, S) compute TFLOPS, bandwidth MHz, memory GB left now
    earliest_free_s: np.ndarray  # (B, S) when each server's first processing slot frees
    terminal_moves: bool = True  # False: the reply goes back over d1 (a forecast without motion)
    # Output length unknown at dispatch: the server admits on the prompt's KV cache alone and the
    # task fails (kv_cache_overflow) when its cache outgrows the reservation. None: known (paper).
    kv_prompt_gb: np.ndarray | None = None  # (B,)


def link_terms(
    scenario: Scenario,
    servers: Servers,
    distance_m: np.ndarray,
    kind: np.ndarray,
    shadowing_up_db: np.ndarray,
    shadowing_down_db: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uplink rate per bandwidth level (..., S, W), downlink slope and budget (..., S) (eqs. 3-7)."""
    radio = scenario.radio
    intercept, slope = channel.path_loss_coefficients(kind, radio)
    gain_up = (
        radio.antenna_gain_db - channel.path_loss_db(distance_m, kind, radio) - shadowing_up_db
    )
    bandwidth_hz = np.asarray(scenario.actions.bandwidth_mhz) * 1e6
    uplink = channel.shannon_rate_bps(
        bandwidth_hz, scenario.terminals.tx_power_dbm, gain_up[..., None], radio
    )
    budget = servers.tx_power_dbm + radio.antenna_gain_db - intercept - shadowing_down_db
    return uplink, slope, budget


@dataclass(frozen=True)
class Outcome:
    """Everything about a task's fate; arrays have the shape of the evaluated actions."""

    transmission_s: np.ndarray
    propagation_s: np.ndarray
    queueing_s: np.ndarray
    compute_s: np.ndarray
    latency_s: np.ndarray  # the latency the task has (or would have had, if it was refused)
    failure: np.ndarray  # index into FAILURE_REASONS
    accuracy: np.ndarray  # pass@100 of the server if completed, else 0
    reward: np.ndarray  # eq. 14, failure_reward if failed
    guidance: np.ndarray  # eq. 11: tc (1/L + pass@100)
    service_start_s: np.ndarray  # when computing starts (after queueing)
    compute_end_s: np.ndarray

    @property
    def completed(self) -> np.ndarray:
        return self.failure == COMPLETED

    @property
    def admitted(self) -> np.ndarray:
        """The task got its resources (completed, ran until abandoned at the deadline, or ran
        until its KV cache overflowed)."""
        return (
            (self.failure == COMPLETED)
            | (self.failure == DEADLINE_EXCEEDED)
            | (self.failure == KV_CACHE_OVERFLOW)
        )


def _per_env(values: np.ndarray, env: np.ndarray, *index: np.ndarray) -> np.ndarray:
    """values[b, index...] for a (B, ...) table; ``env`` is arange(B) shaped to broadcast."""
    return values[(env, *index)]


def _lead(values: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape a (B,) or (B, k) array so it broadcasts against an ndim-dimensional action array."""
    extra = values.shape[1:]
    return values.reshape((values.shape[0],) + (1,) * (ndim - 1) + extra)


def evaluate(
    state: TaskState,
    servers: Servers,
    scenario: Scenario,
    server: np.ndarray,
    compute_level: np.ndarray,
    bandwidth_level: np.ndarray,
    memory_level: np.ndarray,
) -> Outcome:
    """Outcome of giving the current task ``server`` and these allocation levels (broadcast)."""
    levels = (server, compute_level, bandwidth_level, memory_level)
    if len({np.shape(x) for x in levels}) > 1:
        server, compute_level, bandwidth_level, memory_level = np.broadcast_arrays(*levels)
    ndim = server.ndim
    env = np.arange(state.now_s.shape[0]).reshape((-1,) + (1,) * (ndim - 1))
    radio, actions = scenario.radio, scenario.actions
    compute_share = np.asarray(actions.compute_shares)[compute_level]
    bandwidth_mhz = np.asarray(actions.bandwidth_mhz)[bandwidth_level]
    memory_gb = np.asarray(actions.memory_gb)[memory_level]

    # Uplink (PS_x) at distance d1, then propagation (and backhaul) to the server.
    rate_up = _per_env(state.uplink_rate_bps, env, server, bandwidth_level)
    uplink_s = _lead(state.request_bits, ndim) / rate_up
    d1 = _per_env(state.distance_m, env, server)
    backhaul_s = servers.backhaul_one_way_s[server]
    there_s = channel.propagation_delay_s(d1) + backhaul_s

    # Queue for a processing slot, then compute with the allocated share of one GPU.
    at_server_s = _lead(state.now_s, ndim) + uplink_s + there_s
    start_s = np.maximum(at_server_s, _per_env(state.earliest_free_s, env, server))
    compute_s = _per_env(state.full_gpu_time_s, env, server) / compute_share
    compute_end_s = start_s + compute_s

    # Downlink (PS_y) to where the terminal has moved by then (d2).
    if state.terminal_moves:
        motion = (
            state.terminal_start_m,
            state.terminal_velocity_m_s,
            state.terminal_low_m,
            state.terminal_high_m,
        )
        position = positions_at(*(_lead(a, ndim) for a in motion), compute_end_s)
        offset = position - servers.position_m[server]
        d2 = np.sqrt(np.einsum("...i,...i->...", offset, offset))
    else:
        d2 = d1 + np.zeros_like(compute_end_s)
    path_db = _per_env(state.downlink_slope_db, env, server) * np.log10(
        np.maximum(d2, radio.min_distance_m)
    )
    bandwidth_hz = bandwidth_mhz * 1e6
    snr = 10.0 ** (
        (
            _per_env(state.downlink_budget_db, env, server)
            - path_db
            - channel.noise_power_dbm(bandwidth_hz, radio)
        )
        / 10.0
    )
    downlink_s = _lead(state.reply_bits, ndim) / (bandwidth_hz * np.log2(1.0 + snr))
    back_s = channel.propagation_delay_s(d2) + backhaul_s

    transmission_s = uplink_s + downlink_s
    propagation_s = there_s + back_s
    queueing_s = start_s - at_server_s
    latency_s = transmission_s + propagation_s + queueing_s + compute_s

    failure = _failure(
        state, servers, env, server, compute_share, bandwidth_mhz, memory_gb, latency_s
    )
    if state.kv_prompt_gb is not None:
        # Unknown output length: a cache that outgrows its reservation ends the task when it is
        # full, after the share of decoding that fit (decode time taken as linear in the tokens).
        kv_prompt, kv_need = _lead(state.kv_prompt_gb, ndim), _lead(state.kv_need_gb, ndim)
        overflow = (memory_gb < kv_need) & (memory_gb >= kv_prompt)
        fit = np.clip((memory_gb - kv_prompt) / np.maximum(kv_need - kv_prompt, 1e-12), 0.0, 1.0)
        compute_s = np.where(overflow, compute_s * fit, compute_s)
        compute_end_s = start_s + compute_s
        transmission_s = np.where(overflow, uplink_s, transmission_s)
        propagation_s = np.where(overflow, there_s, propagation_s)
        latency_s = np.where(overflow, uplink_s + there_s + queueing_s + compute_s, latency_s)
        runs = overflow & ((failure == COMPLETED) | (failure == DEADLINE_EXCEEDED))
        late = latency_s > _lead(state.t_max_s, ndim)
        failure = np.where(
            runs, np.where(late, DEADLINE_EXCEEDED, KV_CACHE_OVERFLOW), failure
        ).astype(np.int8)
    completed = failure == COMPLETED
    accuracy = np.where(completed, servers.pass_at_100[server], 0.0)
    value = 1.0 / latency_s + servers.pass_at_100[server]
    return Outcome(
        transmission_s=transmission_s,
        propagation_s=propagation_s,
        queueing_s=queueing_s,
        compute_s=compute_s,
        latency_s=latency_s,
        failure=failure,
        accuracy=accuracy,
        reward=np.where(completed, value, scenario.reward.failure_reward),
        guidance=np.where(completed, value, 0.0),
        service_start_s=start_s,
        compute_end_s=compute_end_s,
    )


def _failure(
    state: TaskState,
    servers: Servers,
    env: np.ndarray,
    server: np.ndarray,
    compute_share: np.ndarray,
    bandwidth_mhz: np.ndarray,
    memory_gb: np.ndarray,
    latency_s: np.ndarray,
) -> np.ndarray:
    """First reason the task fails, in the order a server checks them; COMPLETED if none."""
    ndim = server.ndim
    tolerance = 1e-9
    remaining = state.remaining
    checks = (
        (compute_share * servers.gpu_tflops[server], remaining[:, COMPUTE], OUT_OF_COMPUTE),
        (bandwidth_mhz, remaining[:, BANDWIDTH], OUT_OF_BANDWIDTH),
        (memory_gb, remaining[:, MEMORY], OUT_OF_MEMORY),
    )
    failure = np.where(latency_s > _lead(state.t_max_s, ndim), DEADLINE_EXCEEDED, COMPLETED)
    admission_gb = state.kv_need_gb if state.kv_prompt_gb is None else state.kv_prompt_gb
    failure = np.where(memory_gb < _lead(admission_gb, ndim), MEMORY_BELOW_KV_NEED, failure)
    for asked, left, reason in reversed(checks):
        failure = np.where(asked > _per_env(left, env, server) + tolerance, reason, failure)
    return failure.astype(np.int8)


def fits(
    scenario: Scenario, servers: Servers, remaining: np.ndarray, kv_need_gb: np.ndarray
) -> np.ndarray:
    """(B, S, C, W, M) allocations within ``remaining`` (B, 3, S) that hold the KV cache."""
    actions = scenario.actions
    shares = np.asarray(actions.compute_shares)
    compute = shares[None, None, :] * servers.gpu_tflops[None, :, None]  # (1, S, C)
    tolerance = 1e-9
    ok_compute = compute <= remaining[:, COMPUTE, :, None] + tolerance  # (B, S, C)
    ok_bandwidth = np.asarray(actions.bandwidth_mhz)[None, None, :] <= (
        remaining[:, BANDWIDTH, :, None] + tolerance
    )  # (B, S, W)
    memory = np.asarray(actions.memory_gb)
    ok_memory = (memory[None, None, :] <= remaining[:, MEMORY, :, None] + tolerance) & (
        memory[None, None, :] >= kv_need_gb[:, None, None]
    )  # (B, S, M)
    return (
        ok_compute[:, :, :, None, None]
        & ok_bandwidth[:, :, None, :, None]
        & ok_memory[:, :, None, None, :]
    )
