"""The oracle: the upper bound that knows the true state and every action's exact outcome."""

from __future__ import annotations

import numpy as np

from aif_offload.agents.allocation import thriftiest_near_best
from aif_offload.agents.base import ORACLE, Agent
from aif_offload.sim.outcome import Outcome


class OracleAgent(Agent):
    name = "oracle"
    summary = "Knows the hidden state and each action's exact outcome; best guidance (eq. 11) for the current task, thriftiest among near-ties."
    family = ORACLE
    colour = "#000000"
    needs_truth = True
    batches_seeds = True

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        if truth is None:
            raise ValueError("oracle: needs the true outcome of every action (truth=None given)")
        return thriftiest_near_best(truth.guidance, self.context.scenario)
