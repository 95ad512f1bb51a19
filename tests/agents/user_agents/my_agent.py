"""An agent written outside the package, as a user would: run with
``--agents tests/agents/user_agents/my_agent.py:MyAgent`` (or
``tests.agents.user_agents.my_agent:MyAgent``)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from aif_offload.agents import Agent


class MyAgent(Agent):
    """Sends every task to the server with the most reported compute left, with the largest
    allocation of each kind; ``share`` (variant key ``share``) scales the compute level down."""

    name = "my-agent"
    summary = "Most reported compute left, largest allocation (a user's agent from a file)."
    family = "heuristic"
    colour = "#b15928"
    hyperparameters: ClassVar[dict[str, str]] = {"share": "share"}
    share: ClassVar[float] = 1.0

    def act(self, observation: np.ndarray, truth=None) -> np.ndarray:
        left = self.context.layout.get(observation, "remaining_compute")
        nvec = self.context.action_nvec
        actions = np.empty((observation.shape[0], 4), dtype=np.int64)
        actions[:, 0] = np.argmax(left, axis=1)
        actions[:, 1] = max(0, round(self.share * (nvec[1] - 1)))
        actions[:, 2:] = nvec[2:] - 1
        return actions
