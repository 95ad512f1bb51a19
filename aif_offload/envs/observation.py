"""The observation vector: named blocks, so agents read fields by name, never by magic index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aif_offload.sim.scenario import Scenario
from aif_offload.sim.simulator import AgentView

SERVER_BLOCKS = ("distance_km", "remaining_compute", "remaining_bandwidth", "remaining_memory")
TASK_FIELDS = ("prompt_ktokens", "output_ktokens", "request_kb", "reply_kb", "t_max_s")
CLOCK_FIELD = "gap_s"  # time since the previous task, with ``observation.clock``


@dataclass(frozen=True)
class ObservationLayout:
    """Where each named field sits in the flat observation vector."""

    num_servers: int
    clock: bool = False

    @classmethod
    def for_scenario(cls, scenario: Scenario) -> ObservationLayout:
        return cls(scenario.num_servers, clock=scenario.observation.clock)

    @property
    def task_fields(self) -> tuple[str, ...]:
        return (*TASK_FIELDS, CLOCK_FIELD) if self.clock else TASK_FIELDS

    @property
    def size(self) -> int:
        return len(SERVER_BLOCKS) * self.num_servers + len(self.task_fields)

    def slice(self, name: str) -> slice:
        """Slice of a field: a server block has one entry per server, a task field one entry."""
        s = self.num_servers
        if name in SERVER_BLOCKS:
            i = SERVER_BLOCKS.index(name)
            return slice(i * s, (i + 1) * s)
        if name in self.task_fields:
            i = len(SERVER_BLOCKS) * s + self.task_fields.index(name)
            return slice(i, i + 1)
        raise KeyError(
            f"observation field '{name}' unknown, allowed: {SERVER_BLOCKS + self.task_fields}"
        )

    def get(self, observation: np.ndarray, name: str) -> np.ndarray:
        """A field of a (..., size) observation; task fields come back without the last axis."""
        value = observation[..., self.slice(name)]
        return value[..., 0] if name in self.task_fields else value

    def names(self) -> list[str]:
        """One label per entry, e.g. 'distance_km[cloud]'."""
        return [f"{b}[{j}]" for b in SERVER_BLOCKS for j in range(self.num_servers)] + list(
            self.task_fields
        )

    def bounds(self, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
        """Finite low/high bounds of every entry (for the Box space)."""
        width, depth = scenario.terminals.area_m
        top = max(
            scenario.terminals.air_altitude_m[1], *(s.position_m[2] for s in scenario.servers)
        )
        far = max(
            np.sqrt(
                max(abs(x), abs(width - x)) ** 2
                + max(abs(y), abs(depth - y)) ** 2
                + max(abs(z), abs(top - z)) ** 2
            )
            for x, y, z in (s.position_m for s in scenario.servers)
        )
        ctx_k = scenario.model.max_context_tokens / 1000.0
        tok = scenario.tokens
        kb = (scenario.model.max_context_tokens * tok.bytes_per_token + tok.header_bytes) / 1000.0
        low = np.zeros(self.size, dtype=np.float32)
        high = np.ones(self.size, dtype=np.float32)
        high[self.slice("distance_km")] = far / 1000.0 * 1.01
        high[self.slice("prompt_ktokens")] = ctx_k
        high[self.slice("output_ktokens")] = ctx_k
        high[self.slice("request_kb")] = kb
        high[self.slice("reply_kb")] = kb
        high[self.slice("t_max_s")] = 3600.0
        if self.clock:
            high[self.slice(CLOCK_FIELD)] = 3600.0
        return low, high


def encode(view: AgentView, *, clock: bool = False) -> np.ndarray:
    """Flatten an AgentView (batch B) into (B, size) float32, in ObservationLayout order."""
    rows = [
        view.distance_km,
        view.remaining_fraction[:, 0],
        view.remaining_fraction[:, 1],
        view.remaining_fraction[:, 2],
        (view.prompt_tokens / 1000.0)[:, None],
        (view.output_tokens / 1000.0)[:, None],
        view.request_kb[:, None],
        view.reply_kb[:, None],
        view.t_max_s[:, None],
    ]
    if clock:
        rows.append(view.gap_s[:, None])
    return np.concatenate(rows, axis=1).astype(np.float32)
