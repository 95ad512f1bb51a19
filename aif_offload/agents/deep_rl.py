"""What every deep-RL baseline shares, whichever library (SB3, Tianshou) trains it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import torch

from aif_offload.agents.base import Agent
from aif_offload.agents.budget import parallel_envs  # noqa: F401  (re-exported)


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
