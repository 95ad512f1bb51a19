"""Stable-Baselines3 ``VecEnv`` over the batched simulator (needs the ``rl`` or ``dev`` extra).

SB3 does not take Gymnasium vector environments; this adapter gives it the same B copies as
:class:`~aif_offload.envs.vector.CloudEdgeLLMVectorEnv`, with SB3's conventions: ``dones`` for
episode ends, ``infos[i]["terminal_observation"]`` and ``infos[i]["TimeLimit.truncated"] = True``
(episodes end by a time limit, so value targets bootstrap), and ``env_method("action_masks")`` for
sb3-contrib's MaskablePPO.

With ``one_stream=True`` the environments play the episodes of a single workload stream, dealt
to them in turn (env i plays episodes i, i + B, i + 2B, ... of the stream that one environment
seeded with ``seed`` would play): several environments then collect the same workloads as one,
in 1/B of the steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from aif_offload.envs.core import RewardKind
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.sim.scenario import Scenario


class _OneStream(CloudEdgeLLMVectorEnv):
    """Every episode seed drawn from one generator, in the order the episodes start."""

    def reset(self, *, seed=None, options=None):
        self._stream = np.random.default_rng(seed)
        return super().reset(seed=[seed] * self.num_envs, options=options)

    def _episode_seeds(self, envs: np.ndarray) -> list[int]:
        return [int(self._stream.integers(2**63 - 1)) for _ in envs]


class SB3VecEnv(VecEnv):
    """``num_envs`` copies of one scenario for SB3 algorithms."""

    def __init__(
        self,
        num_envs: int,
        scenario: Scenario | str = "paper",
        *,
        seed: int = 0,
        t_max_s: float | None = None,
        load_percent: float | None = None,
        flatten_actions: bool = False,
        reward: RewardKind = "eq14",
        one_stream: bool = False,
    ) -> None:
        self.one_stream = one_stream
        self.vector = (_OneStream if one_stream else CloudEdgeLLMVectorEnv)(
            num_envs,
            scenario,
            t_max_s=t_max_s,
            load_percent=load_percent,
            flatten_actions=flatten_actions,
            reward=reward,
        )
        super().__init__(
            num_envs, self.vector.single_observation_space, self.vector.single_action_space
        )
        self._seed = seed
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        seeds = [self._seed + i for i in range(self.num_envs)]
        observation, _ = self.vector.reset(seed=self._seed if self.one_stream else seeds)
        return observation

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """The seeds the next reset uses: env i's, or the one stream's (then the same for all)."""
        if seed is not None:
            self._seed = seed
        return [self._seed + (0 if self.one_stream else i) for i in range(self.num_envs)]

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        observation, reward, terminated, truncated, info = self.vector.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [
            {
                key: value[i]
                for key, value in info.items()
                if key != "final_obs" and not key.startswith("true_")
            }
            for i in range(self.num_envs)
        ]
        for i in np.flatnonzero(dones):
            infos[i]["terminal_observation"] = info["final_obs"][i]
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return observation, reward.astype(np.float32), dones, infos

    def close(self) -> None:
        """Nothing to release."""

    def action_masks(self) -> np.ndarray:
        return self.vector.action_masks()

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list[Any]:
        if method_name != "action_masks":
            raise AttributeError(
                f"env_method: only 'action_masks' is supported, not '{method_name}'"
            )
        masks = self.vector.action_masks()
        return [masks[i] for i in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        value = getattr(self.vector, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        raise AttributeError(
            f"set_attr: the batched environments share '{attr_name}'; not settable"
        )

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
