"""The servers as arrays: one cloud and N edge sites, their capacities and serving profiles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aif_offload.sim.llm_latency import GpuSpec, ModelSpec, ServingProfile, weights_bytes
from aif_offload.sim.scenario import Scenario

COMPUTE, BANDWIDTH, MEMORY = 0, 1, 2
RESOURCES = ("compute", "bandwidth", "memory")
RESOURCE_UNITS = ("TFLOPS", "MHz", "GB")


@dataclass(frozen=True)
class Servers:
    """Static description of the S servers; every array has the server as its last axis."""

    names: tuple[str, ...]
    is_cloud: np.ndarray  # (S,) bool
    position_m: np.ndarray  # (S, 3)
    gpu_tflops: np.ndarray  # (S,) peak of one GPU: a compute share of 1 is this much
    capacity: np.ndarray  # (3, S): compute TFLOPS, bandwidth MHz, KV memory GB
    max_parallel: np.ndarray  # (S,) int
    tx_power_dbm: np.ndarray  # (S,)
    backhaul_one_way_s: np.ndarray  # (S,)
    pass_at_100: np.ndarray  # (S,)
    profiles: tuple[ServingProfile, ...]

    @property
    def num_servers(self) -> int:
        return len(self.names)


def model_spec(scenario: Scenario) -> ModelSpec:
    m = scenario.model
    return ModelSpec(
        name=m.name,
        num_params=m.num_params,
        bytes_per_param=m.bytes_per_param,
        num_layers=m.num_layers,
        num_kv_heads=m.num_kv_heads,
        head_dim=m.head_dim,
    )


def build_servers(scenario: Scenario) -> Servers:
    """Arrays of server properties; KV memory is what the GPUs hold beyond one copy of the weights."""
    model = model_spec(scenario)
    weights_gb = weights_bytes(model) / 1e9
    profiles, gpu_tflops, compute, memory = [], [], [], []
    for server in scenario.servers:
        gpu = scenario.gpus[server.gpu]
        spec = GpuSpec(
            name=server.gpu,
            peak_fp16_tflops=gpu.peak_fp16_tflops,
            memory_bandwidth_gbps=gpu.memory_bandwidth_gbps,
            memory_gb=gpu.memory_gb,
        )
        slowdown = 1.0 if server.accelerated else scenario.serving.unaccelerated_slowdown
        profiles.append(
            ServingProfile(
                gpu=spec,
                model=model,
                memory_efficiency=scenario.serving.memory_efficiency,
                compute_efficiency=scenario.serving.compute_efficiency,
                framework_slowdown=slowdown,
            )
        )
        gpu_tflops.append(gpu.peak_fp16_tflops)
        compute.append(server.num_gpus * gpu.peak_fp16_tflops)
        memory.append(server.num_gpus * (gpu.memory_gb - weights_gb))
    servers = scenario.servers
    return Servers(
        names=tuple(s.name for s in servers),
        is_cloud=np.array([s.kind == "cloud" for s in servers]),
        position_m=np.array([s.position_m for s in servers], dtype=float),
        gpu_tflops=np.array(gpu_tflops),
        capacity=np.array([compute, [s.bandwidth_mhz for s in servers], memory], dtype=float),
        max_parallel=np.array([s.max_parallel for s in servers], dtype=np.int64),
        tx_power_dbm=np.array([s.tx_power_dbm for s in servers], dtype=float),
        backhaul_one_way_s=np.array([s.backhaul_one_way_s for s in servers], dtype=float),
        pass_at_100=np.array([s.pass_at_100 for s in servers], dtype=float),
        profiles=tuple(profiles),
    )


def reservation_slots(scenario: Scenario, servers: Servers) -> int:
    """Most reservations one server can hold at once: its capacity over the smallest allocation."""
    actions = scenario.actions
    smallest = np.array(
        [
            [min(actions.compute_shares) * t for t in servers.gpu_tflops],
            [min(actions.bandwidth_mhz)] * servers.num_servers,
            [min(actions.memory_gb)] * servers.num_servers,
        ]
    )
    per_server = np.floor(servers.capacity / smallest + 1e-9).min(axis=0)
    return int(per_server.max()) + 1
