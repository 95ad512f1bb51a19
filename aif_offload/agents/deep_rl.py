"""What every deep-RL baseline shares, whichever library (SB3, Tianshou) trains it."""

from __future__ import annotations

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

    def freeze(self) -> None:
        # Sampled evaluation draws from torch's global generator: seed it for reproducibility.
        torch.manual_seed(self.seeds[0])
