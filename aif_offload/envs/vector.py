"""A Gymnasium vector environment stepping B copies of the simulator in one NumPy batch.

All copies share a scenario, so their episodes have the same number of tasks and end together;
each is reset at once when it ends (same-step autoreset) and the last observation is kept in
``info["final_obs"]``. ``aif_offload.envs.sb3.SB3VecEnv`` adapts it to Stable-Baselines3.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from aif_offload.envs.core import EnvCore, RewardKind
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.simulator import EpisodeTasks


class CloudEdgeLLMVectorEnv(VectorEnv):
    """``num_envs`` independent environments of one scenario, batched."""

    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.SAME_STEP,
        "render_modes": [],
    }

    def __init__(
        self,
        num_envs: int,
        scenario: Scenario | str = "paper",
        *,
        t_max_s: float | None = None,
        load_percent: float | None = None,
        flatten_actions: bool = False,
        reward: RewardKind = "eq14",
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs: must be >= 1, got {num_envs}")
        self.core = EnvCore(
            scenario,
            num_envs,
            t_max_s=t_max_s,
            load_percent=load_percent,
            flatten_actions=flatten_actions,
            reward=reward,
        )
        self.scenario = self.core.scenario
        self.num_envs = num_envs
        self.single_observation_space = self.core.observation_space
        self.single_action_space = self.core.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._seeders: list[np.random.Generator] = []

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Seed env i with ``seed + i`` (an int), ``seed[i]`` (a list) or fresh entropy (None).

        ``options={"world_seeds": [...]}`` fixes each env's hidden world (its servers' speed factors),
        which then stays the same over its autoreset episodes; by default it is env i's seed, so
        workloads seeded apart (training and held-out evaluation) can share one world.
        """
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, int | np.integer):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed: needs {self.num_envs} seeds, got {len(seeds)}")
        # Each env's episodes are seeded from its own stream: the first from the given seed, the
        # following ones (autoreset) from the next draws, so env i never depends on env j.
        self._seeders = [np.random.default_rng(s) for s in seeds]
        worlds = list((options or {}).get("world_seeds", seeds))
        if len(worlds) != self.num_envs:
            raise ValueError(f"options.world_seeds: needs {self.num_envs} seeds, got {len(worlds)}")
        self.core.sim.reset(self._episode_seeds(np.arange(self.num_envs)), world_seeds=worlds)
        return self.core.observe(), {}

    def _episode_seeds(self, envs: np.ndarray) -> list[int]:
        return [int(self._seeders[i].integers(2**63 - 1)) for i in envs]

    def step(
        self, actions
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._seeders:
            raise RuntimeError("call reset() before step()")
        result, truth = self.core.step(actions)
        reward = self.core.reward(result)
        info = self.core.info(result, truth)
        truncated = self.core.sim.done.copy()
        terminated = np.zeros(self.num_envs, dtype=bool)
        if truncated.any():
            info["final_obs"] = self.core.observe()
            envs = np.flatnonzero(truncated)
            self.core.sim.reset(self._episode_seeds(envs), envs)
        return self.core.observe(), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        return self.core.action_masks()

    def oracle_outcomes(self):
        return self.core.oracle_outcomes()

    def episode_tasks(self) -> list[EpisodeTasks]:
        """Every environment's current episode in advance (:class:`EpisodeTasks`), for agents with
        ``Agent.needs_episode_truth`` (``hindsight``) only; call it before the episode's first step."""
        return [self.core.sim.episode_tasks(i) for i in range(self.num_envs)]

    def current_terminals(self) -> np.ndarray:
        """(B,) index of the terminal issuing each environment's current task (the one the last
        observation describes), for agents that act per terminal (``Agent.needs_terminal``)."""
        return self.core.sim.current_terminal()
