"""Rule baselines: random (the floor), round-robin, cloud-only, edge-only and greedy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aif_offload.agents.allocation import Forecaster, thriftiest_near_best
from aif_offload.agents.base import RULE, Agent, EnvContext
from aif_offload.sim.outcome import Outcome


class RandomAgent(Agent):
    name = "random"
    summary = "Uniformly random server and allocation levels (the floor)."
    family = RULE
    colour = "#7f7f7f"
    batches_seeds = True

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        nvec = self.context.action_nvec
        return np.stack([rng.integers(0, nvec) for rng in self.rngs])


class _NominalRule(Agent):
    """A rule that only picks the server; allocation is whole-GPU compute, least bandwidth, KV-sized memory."""

    def __init__(self, context: EnvContext, *, seeds: Sequence[int]) -> None:
        super().__init__(context, seeds=seeds)
        self.forecaster = Forecaster(context)
        self.is_cloud = self.forecaster.servers.is_cloud

    def choose_server(self, observation: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        return self.forecaster.nominal_allocation(observation, self.choose_server(observation))


class RoundRobinAgent(_NominalRule):
    name = "round-robin"
    summary = "Servers in turn, nominal allocation."
    family = RULE
    colour = "#c7c7c7"
    batches_seeds = True

    def begin_episode(self) -> None:
        self._next = np.zeros(self.context.batch_size, dtype=np.int64)

    def choose_server(self, observation: np.ndarray) -> np.ndarray:
        if not hasattr(self, "_next"):
            self.begin_episode()
        server = self._next % self.context.action_nvec[0]
        self._next = self._next + 1
        return server


class CloudOnlyAgent(_NominalRule):
    name = "cloud-only"
    summary = "Every task to the cloud, nominal allocation."
    family = RULE
    colour = "#8c564b"
    batches_seeds = True

    def choose_server(self, observation: np.ndarray) -> np.ndarray:
        return np.full(observation.shape[0], int(np.flatnonzero(self.is_cloud)[0]))


class EdgeOnlyAgent(_NominalRule):
    name = "edge-only"
    summary = "Every task to the edge with the most reported compute left, nominal allocation."
    family = RULE
    colour = "#c49c94"
    batches_seeds = True

    def choose_server(self, observation: np.ndarray) -> np.ndarray:
        left = self.context.layout.get(observation, "remaining_compute").copy()
        left[:, self.is_cloud] = -np.inf
        return left.argmax(axis=1)


class GreedyAgent(Agent):
    name = "greedy"
    summary = "Least forecast latency (nominal model, reported load, no hidden state) among allocations forecast to fit; thriftiest among near-ties."
    family = RULE
    colour = "#393b79"
    batches_seeds = True

    def __init__(self, context: EnvContext, *, seeds: Sequence[int]) -> None:
        super().__init__(context, seeds=seeds)
        self.forecaster = Forecaster(context)

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        forecast = self.forecaster.forecast_all(observation)
        speed = 1.0 / forecast.latency_s
        # Only allocations forecast to complete; if none is, the fastest of all.
        value = np.where(forecast.completed, speed, -np.inf)
        hopeless = ~np.isfinite(value.reshape(value.shape[0], -1)).any(axis=1)
        value[hopeless] = speed[hopeless]
        return thriftiest_near_best(value, self.context.scenario)
