"""Resource reservations and the parallel-processing queue of every server (eq. 8's L_q).

A task reserves its compute, bandwidth and memory when it is admitted and holds them until it ends;
a server that runs ``max_parallel`` tasks makes the next one wait for the earliest-finishing running
task. Both are fixed-size arrays per (environment, server) so a whole batch updates without loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Reservations:
    """Held resources per (env, server): a fixed table of K entries and their running total.

    ``in_use`` is kept up to date incrementally: an admission adds its amounts, and ``release``
    subtracts the entries whose release time has passed, so reading what is left costs nothing.
    """

    occupied: np.ndarray  # (B, S, K) bool
    release_s: np.ndarray  # (B, S, K)
    amount: np.ndarray  # (B, S, K, 3) compute, bandwidth, memory
    in_use: np.ndarray  # (B, S, 3)

    @classmethod
    def empty(cls, batch: int, servers: int, slots: int) -> Reservations:
        return cls(
            occupied=np.zeros((batch, servers, slots), dtype=bool),
            release_s=np.zeros((batch, servers, slots)),
            amount=np.zeros((batch, servers, slots, 3)),
            in_use=np.zeros((batch, servers, 3)),
        )

    def clear(self, envs: np.ndarray) -> None:
        self.occupied[envs] = False
        self.amount[envs] = 0.0
        self.in_use[envs] = 0.0

    def release(self, now_s: np.ndarray) -> None:
        """Free every reservation that ended at or before ``now_s`` (B,)."""
        ended = self.occupied & (self.release_s <= now_s[:, None, None])
        if not ended.any():
            return
        env, server, slot = np.nonzero(ended)
        np.subtract.at(self.in_use, (env, server), self.amount[env, server, slot])
        self.occupied[env, server, slot] = False
        # Totals of servers left empty are exactly zero, whatever rounding the sums collected.
        self.in_use[~self.occupied.any(axis=-1)] = 0.0

    def reserve(
        self, envs: np.ndarray, server: np.ndarray, release_s: np.ndarray, amount: np.ndarray
    ) -> None:
        """Record one reservation for each listed environment."""
        free = ~self.occupied[envs, server]
        if not free.any(axis=-1).all():
            raise RuntimeError("reservation table full: resources should have been exhausted first")
        slot = free.argmax(axis=-1)
        self.occupied[envs, server, slot] = True
        self.release_s[envs, server, slot] = release_s
        self.amount[envs, server, slot] = amount
        self.in_use[envs, server] += amount


@dataclass
class ParallelSlots:
    """When each of a server's processing slots is next free; slots beyond max_parallel are +inf."""

    free_at_s: np.ndarray  # (B, S, P)
    max_parallel: np.ndarray  # (S,)

    @classmethod
    def empty(cls, batch: int, max_parallel: np.ndarray) -> ParallelSlots:
        width = int(max_parallel.max())
        template = np.where(np.arange(width)[None, :] < max_parallel[:, None], -np.inf, np.inf)
        return cls(free_at_s=np.repeat(template[None], batch, axis=0), max_parallel=max_parallel)

    def clear(self, envs: np.ndarray) -> None:
        width = self.free_at_s.shape[-1]
        live = np.arange(width)[None, :] < self.max_parallel[:, None]
        self.free_at_s[envs] = np.where(live, -np.inf, np.inf)

    def earliest_free_s(self) -> np.ndarray:
        """(B, S): when the first slot of each server is free (the earliest-finishing task)."""
        return self.free_at_s.min(axis=-1)

    def occupy(
        self, envs: np.ndarray, server: np.ndarray, start_s: np.ndarray, end_s: np.ndarray
    ) -> None:
        """The task takes the earliest-free slot from ``start_s`` until ``end_s``."""
        slot = self.free_at_s[envs, server].argmin(axis=-1)
        self.free_at_s[envs, server, slot] = np.maximum(end_s, start_s)
