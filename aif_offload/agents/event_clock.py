"""The agent's clock: when each of its tasks arrived, from what it may legitimately know.

The continuous agents (``aif-pyro``, ``aif-ensemble``) keep a ledger of their own admitted tasks
(when each one releases its allocation) and plan over the next few tasks; both need the arrival
time of every task in seconds. Two sources, chosen from the nominal scenario:

- ``observation.clock`` on and ``episode.arrival`` other than ``per_step`` (the trace scenarios):
  the **observed gaps**. The observation carries ``gap_s``, the time since the previous task (0
  for the first of an episode), so the arrival time of task k is the cumulative sum of the gaps
  observed up to k; the next task's arrival is known once its observation (``next_observation``
  of the transition) is seen.
- otherwise the **step clock**: task k arrives at ``k x interarrival_s``, which is exact for
  ``arrival = "per_step"`` (the simulator's own arrival times; ``gap_s``, where observed, equals
  the interarrival time) and the only estimate left when gaps are not observed (``poisson`` or
  ``trace`` arrivals without the clock).

The future is unknown either way: the planner places the tasks after the current one at the mean
gap (``interarrival_s``, the nominal arrival rate), the best point forecast for any arrival law
with that mean.
"""

from __future__ import annotations

import numpy as np

from aif_offload.envs.observation import CLOCK_FIELD, ObservationLayout
from aif_offload.sim.scenario import Scenario

STEP_CLOCK = "step"
OBSERVED_CLOCK = "observed gaps"


def clock_source(scenario: Scenario) -> str:
    """Which clock an agent built from ``scenario`` (its nominal view) can run on."""
    if scenario.observation.clock and scenario.episode.arrival != "per_step":
        return OBSERVED_CLOCK
    return STEP_CLOCK


class EventClock:
    """Per-row arrival times (B,) of the current task, advanced once per ``tick``.

    ``tick(observation)`` is called once per step, before acting on that observation, and returns
    the current task's arrival time; ``next_arrival(next_observation)`` gives the following task's
    arrival time without advancing; ``horizon(now, h)`` the (B, h + 1) forecast arrival times of
    the current task and the h after it.
    """

    def __init__(self, scenario: Scenario, layout: ObservationLayout, batch: int) -> None:
        self.source = clock_source(scenario)
        if self.source == OBSERVED_CLOCK and not layout.clock:
            raise ValueError(f"observation.clock: on in the scenario but no '{CLOCK_FIELD}' field")
        self.layout = layout
        self.mean_gap_s = scenario.episode.interarrival_s
        self.batch = batch
        self.reset()

    def reset(self) -> None:
        """A new episode: the next ``tick`` is its first task, at time 0."""
        self.steps = 0
        self.now_s = np.zeros(self.batch)

    def _gap(self, observation: np.ndarray) -> np.ndarray:
        if self.source == OBSERVED_CLOCK:
            return self.layout.get(observation, CLOCK_FIELD).astype(float)
        return np.full(len(observation), self.mean_gap_s)

    def tick(self, observation: np.ndarray) -> np.ndarray:
        """Advance to the task of ``observation`` and return its arrival time (B,)."""
        if self.source == STEP_CLOCK:
            self.now_s = np.full(self.batch, self.steps * self.mean_gap_s)
        elif self.steps > 0:  # the first task of an episode arrives at 0 whatever its gap says
            self.now_s = self.now_s + self._gap(observation)
        self.steps += 1
        return self.now_s.copy()

    def next_arrival(self, next_observation: np.ndarray | None) -> np.ndarray:
        """Arrival time (B,) of the task after the current one (the mean gap if not observed)."""
        if next_observation is None:
            return self.now_s + self.mean_gap_s
        return self.now_s + self._gap(next_observation)

    def horizon(self, now_s: np.ndarray, steps: int) -> np.ndarray:
        """(B, steps + 1) forecast arrival times: now, then one task every mean gap."""
        return now_s[:, None] + self.mean_gap_s * np.arange(steps + 1)[None, :]
