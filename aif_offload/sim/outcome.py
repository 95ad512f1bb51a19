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
FAILURE_REASONS = (
    "completed",
    "out_of_compute",
    "out_of_bandwidth",
    "out_of_memory",
    "memory_below_kv_need",
    "deadline_exceeded",
)


@dataclass(frozen=True)
class TaskState:
    """The current task and the system as it is when the task is issued; arrays lead with B."""

    now_s: np.ndarray  # (B,)
    terminal_start_m: np.ndarray  # (B, 3) unfolded motion of the requesting terminal
    terminal_velocity_m_s: np.ndarray  # (B, 3)
    terminal_low_m: np.ndarray  # (B, 3)
    terminal_high_m: np.ndarray  # (B, 3)
    distance_m: np.ndarray  # (B, S) d1 at issue time
    link_kind: np.ndarray  # (B, S)
    shadowing_up_db: np.ndarray  # (B, S)
    shadowing_down_db: np.ndarray  # (B, S)
    request_bits: np.ndarray  # (B,) PS_x
    reply_bits: np.ndarray  # (B,) PS_y
    full_gpu_time_s: np.ndarray  # (B, S) compute time with a whole GPU of each server
    kv_need_gb: np.ndarray  # (B,)
    t_max_s: np.ndarray  # (B,)
    remaining: np.ndarray  # (B, 3, S) compute TFLOPS, bandwidth MHz, memory GB left now
    earliest_free_s: np.ndarray  # (B, S) when each server's first processing slot frees


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
        """The task got its resources (completed, or ran until abandoned at the deadline)."""
        return (self.failure == COMPLETED) | (self.failure == DEADLINE_EXCEEDED)


def _per_env(values: np.ndarray, server: np.ndarray) -> np.ndarray:
    """values[b, server[b, ...]] for a (B, S) table and a server index with leading dim B."""
    batch = values.shape[0]
    env = np.arange(batch).reshape((batch,) + (1,) * (server.ndim - 1))
    return values[env, server]


def _lead(values: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape a (B,) or (B, k) array so it broadcasts against an ndim-dimensional action array."""
    extra = values.shape[1:]
    return values.reshape((values.shape[0],) + (1,) * (ndim - 1) + extra)


def evaluate(
    state: TaskState,
    servers: Servers,
    scenario: Scenario,
    server: np.ndarray,
    compute_share: np.ndarray,
    bandwidth_mhz: np.ndarray,
    memory_gb: np.ndarray,
) -> Outcome:
    """Outcome of giving the current task ``server`` with these allocations (broadcast shapes)."""
    server, compute_share, bandwidth_mhz, memory_gb = np.broadcast_arrays(
        server, compute_share, bandwidth_mhz, memory_gb
    )
    ndim = server.ndim
    radio = scenario.radio
    bandwidth_hz = bandwidth_mhz * 1e6

    # Uplink (PS_x) at distance d1.
    d1 = _per_env(state.distance_m, server)
    kind = _per_env(state.link_kind, server)
    gain_up = channel.channel_gain_db(d1, kind, _per_env(state.shadowing_up_db, server), radio)
    rate_up = channel.shannon_rate_bps(
        bandwidth_hz, scenario.terminals.tx_power_dbm, gain_up, radio
    )
    uplink_s = _lead(state.request_bits, ndim) / rate_up
    backhaul_s = servers.backhaul_one_way_s[server]
    there_s = channel.propagation_delay_s(d1) + backhaul_s

    # Queue for a processing slot, then compute with the allocated share of one GPU.
    now = _lead(state.now_s, ndim)
    at_server_s = now + uplink_s + there_s
    start_s = np.maximum(at_server_s, _per_env(state.earliest_free_s, server))
    compute_s = _per_env(state.full_gpu_time_s, server) / compute_share
    compute_end_s = start_s + compute_s

    # Downlink (PS_y) to where the terminal has moved by then (d2).
    motion = (
        state.terminal_start_m,
        state.terminal_velocity_m_s,
        state.terminal_low_m,
        state.terminal_high_m,
    )
    start_m, velocity, low, high = (_lead(a, ndim) for a in motion)
    position = positions_at(start_m, velocity, low, high, compute_end_s)
    d2 = np.linalg.norm(position - servers.position_m[server], axis=-1)
    gain_down = channel.channel_gain_db(d2, kind, _per_env(state.shadowing_down_db, server), radio)
    rate_down = channel.shannon_rate_bps(
        bandwidth_hz, servers.tx_power_dbm[server], gain_down, radio
    )
    downlink_s = _lead(state.reply_bits, ndim) / rate_down
    back_s = channel.propagation_delay_s(d2) + backhaul_s

    transmission_s = uplink_s + downlink_s
    propagation_s = there_s + back_s
    queueing_s = start_s - at_server_s
    latency_s = transmission_s + propagation_s + queueing_s + compute_s

    failure = _failure(state, servers, server, compute_share, bandwidth_mhz, memory_gb, latency_s)
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
    failure = np.where(memory_gb < _lead(state.kv_need_gb, ndim), MEMORY_BELOW_KV_NEED, failure)
    for asked, left, reason in reversed(checks):
        failure = np.where(asked > _per_env(left, server) + tolerance, reason, failure)
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
