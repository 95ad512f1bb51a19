"""``hindsight``: knows the whole episode in advance; its relaxed optimum is the true upper bound.

Before the first step of every episode the runner hands it the episode (``see_episode``: every
arrival, true length, tenants' path and speed, as :class:`~aif_offload.sim.simulator.EpisodeTasks`).
It solves the queue-free relaxation of :mod:`aif_offload.planning.hindsight` twice, for completions
and for the eq. 14 sum, and reports the two proven bounds through ``end_episode``. It then plays the
completion plan in the real simulator, where queueing can make a planned task fail; its realised
numbers are a policy's (a lower bound on the hindsight optimum), the bounds are above every policy's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from aif_offload.agents.allocation import resource_use
from aif_offload.agents.base import ORACLE, Agent
from aif_offload.planning.hindsight import candidates, solve
from aif_offload.sim.outcome import Outcome
from aif_offload.sim.simulator import EpisodeTasks


class HindsightAgent(Agent):
    name = "hindsight"
    summary = "Knows the whole episode in advance; plays the plan of a queue-free 0-1 relaxation (HiGHS) whose optimum bounds every policy's completions and eq. 14 sum."
    family = ORACLE
    colour = "#7f7f7f"
    needs_truth = True
    needs_episode_truth = True
    time_limit_s: float = 10.0  # per HiGHS solve (two per episode and row)
    hyperparameters: ClassVar[dict[str, str]] = {"time": "time_limit_s"}

    def see_episode(self, episodes: Sequence[EpisodeTasks]) -> None:
        """Solve every row's episode before its first step (one :class:`EpisodeTasks` per row)."""
        if len(episodes) != self.context.batch_size:
            raise ValueError(
                f"episodes: need one per environment ({self.context.batch_size}), got {len(episodes)}"
            )
        # The true world: the context is the nominal view, the episode carries the truth.
        scenario = episodes[0].scenario
        plans, stats = [], []
        for tasks in episodes:
            done, paid = (
                solve(
                    candidates(tasks, tasks.servers, tasks.scenario, objective),
                    objective,
                    time_limit_s=self.time_limit_s,
                )
                for objective in ("completion", "reward")
            )
            n = tasks.states.now_s.size
            plans.append(done.plan)
            stats.append(
                {
                    "bound_completion_rate": done.bound / n,
                    "bound_sum_reward": paid.bound,
                    "bound_completion_optimal": float(done.optimal),
                    "bound_reward_optimal": float(paid.optimal),
                    "plan_completion_rate": done.planned_value / n,
                    "solve_time_s": done.solve_s + paid.solve_s,
                }
            )
        self._plan = np.stack(plans)  # (B, N, 4), -1 rows: tasks the plan drops
        self._stats = {key: np.array([row[key] for row in stats]) for key in stats[0]}
        self._t_max_s = np.array([tasks.states.t_max_s[0] for tasks in episodes])
        self._step = 0
        self._thrift = resource_use(scenario)[0]  # (1, C, W, M)

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        """The plan's action when the truth says it completes; otherwise the fallback of
        :meth:`_fallback` (queueing, which the plan ignores, can make a planned action fail)."""
        if truth is None:
            raise ValueError("hindsight: needs the true outcome of every action (truth=None given)")
        if not hasattr(self, "_plan"):
            raise RuntimeError("hindsight: see_episode(...) must come before the episode's steps")
        if self._step >= self._plan.shape[1]:
            raise RuntimeError("hindsight: more steps than the episode it was shown has tasks")
        planned = self._plan[:, self._step]
        self._step += 1
        actions = np.empty_like(planned)
        for row in range(planned.shape[0]):
            actions[row] = self._choose(planned[row], truth, row)
        return actions

    def _choose(self, planned: np.ndarray, truth: Outcome, row: int) -> np.ndarray:
        """Planned and completing: play it. Otherwise prefer what leaves the plan intact: for a
        dropped task an action the server refuses (it holds nothing), for a planned one that
        would fail the completing action with the least resource-time; then the other; then the
        least resource-time of all (a failing admitted task holds its resources until it ends)."""
        completed, admitted = truth.completed[row], truth.admitted[row]
        if planned[0] >= 0 and completed[tuple(planned)]:
            return planned
        hold = np.minimum(truth.latency_s[row], self._t_max_s[row])
        footprint = self._thrift * hold
        refused = ~admitted
        options = [completed, refused] if planned[0] >= 0 else [refused, completed]
        for allowed in (*options, np.ones_like(completed)):
            if allowed.any():
                score = np.where(allowed, footprint, np.inf)
                return np.array(np.unravel_index(np.argmin(score), score.shape), dtype=np.int64)
        raise AssertionError("unreachable: the last option allows every action")

    def end_episode(self) -> dict[str, np.ndarray]:
        """The bounds of the episode just played (per row): ``bound_completion_rate`` and
        ``bound_sum_reward`` (proven upper bounds on any policy), whether each is the relaxation's
        optimum (``bound_*_optimal``), the plan's completion in the relaxation and the solve time."""
        stats = getattr(self, "_stats", {})
        self.__dict__.pop("_plan", None)
        return stats
