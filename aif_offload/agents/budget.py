"""How a training budget splits over environments collecting side by side (no heavy imports)."""

from __future__ import annotations

import math


def parallel_envs(limit: int, counts: list[int]) -> int:
    """The most environments, at most ``limit``, that divide every one of ``counts`` evenly.

    The counts are the episodes of each training phase and the steps of an episode (or of a
    collection): with a divisor, training stops after exactly the budgeted episodes, all
    environments ending theirs on the same step.
    """
    if limit < 1:
        raise ValueError(f"n_envs: must be >= 1, got {limit}")
    common = math.gcd(*counts)
    return max(d for d in range(1, limit + 1) if common % d == 0)
