"""What every deep-RL baseline shares, whichever library (SB3, Tianshou) trains it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import torch

from aif_offload.agents.base import Agent


class DeepRLAgent(Agent):
    """A library-trained torch agent: trains itself, has a tunable learning rate, and is
    evaluated either by sampling its learned policy or by its mode (docs/baselines.md)."""

    learns = True
    trains_itself = True
    learning_rate: ClassVar[float]  # the value chosen by the tuning sweep (docs/baselines.md)
    hyperparameters: ClassVar[dict[str, str]] = {"lr": "learning_rate"}
    # Policy-gradient methods learn a stochastic policy whose mode is a different, much worse
    # policy here (docs/architecture.md), so they are evaluated by sampling it.
    stochastic_evaluation: ClassVar[bool] = False
    # Environments collecting side by side (at most; see parallel_envs). They play the episodes
    # of the row's one training workload stream in turn, so the workloads are the same as with one.
    n_envs: ClassVar[int] = 1

    def freeze(self) -> None:
        # Sampled evaluation draws from torch's global generator: seed it for reproducibility.
        torch.manual_seed(self.seeds[0])


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


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with torch on ``count`` threads, restoring the caller's setting after.

    The networks are small: on a few shared cores one thread trains them several times faster
    (docs/research/drl-libraries.md); restoring keeps the setting from leaking into whatever
    runs next in the process.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
