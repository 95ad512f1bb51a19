"""``aif_offload/CloudEdgeLLM-v0``: one cloud-edge LLM serving system as a Gymnasium environment."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from aif_offload.envs.core import EnvCore, RewardKind, failure_name
from aif_offload.envs.observation import ObservationLayout
from aif_offload.sim.scenario import Scenario


class CloudEdgeLLMEnv(gym.Env):
    """
    ## Description

    LLM inference offloading and resource allocation in cloud-edge computing, after He, Fang, Yu and
    Leung (IEEE TMC 2024). Terminals (fixed PCs, ground mobiles, UAVs) issue GPT-J-6B inference
    requests, one per step. For each request the agent chooses the server (the cloud, fast but less
    accurate, or one of the edge sites, slow but more accurate) and the compute share, radio bandwidth
    and GPU memory it reserves. The task's latency is transmission + propagation + queueing + compute
    (eq. 8 of the paper); it fails if a reservation exceeds what the server has left, if the memory
    cannot hold its KV cache, or if the latency exceeds the deadline ``t_max``.

    ## Action Space

    ``MultiDiscrete([S, C, W, M])``: server index (0 = cloud in the embedded scenarios), compute
    level (share of one GPU), bandwidth level (MHz) and memory level (GB), with the levels of the
    scenario's ``[actions]`` table. With ``flatten_actions=True`` it is ``Discrete(S*C*W*M)`` in
    row-major order of those four. ``action_masks()`` marks the allocations that fit what the
    agent is told each server has left (per-dimension masks joined, or the flat joint mask).

    ## Observation Space

    ``Box(float32)`` of size 4S + 5, or 4S + 6 with the clock (25 or 26 for five servers):

    | entries | observation | unit | range |
    |---|---|---|---|
    | 0 .. S-1 | distance from the requesting terminal to each server | km | 0 .. box diagonal |
    | S .. 2S-1 | compute left on each server (reported) | fraction of capacity | 0 .. 1 |
    | 2S .. 3S-1 | bandwidth left on each server (reported) | fraction | 0 .. 1 |
    | 3S .. 4S-1 | GPU memory for KV caches left on each server (reported) | fraction | 0 .. 1 |
    | 4S | prompt tokens of the task | thousands | 0 .. context |
    | 4S+1 | output tokens of the task (predicted) | thousands | 0 .. context |
    | 4S+2 | request packet PS_x | kB | |
    | 4S+3 | reply packet PS_y (from the predicted output) | kB | |
    | 4S+4 | deadline t_max | s | 0 .. 3600 |
    | 4S+5 | time since the previous task (only with ``observation.clock``) | s | 0 .. 3600 |

    With the scenario's ``observation.mode = "partial"`` (the ``paper`` scenario) the three load
    blocks are reports from ``report_delay_steps`` decisions ago with Gaussian noise of
    ``report_noise_std``, clipped to [0, 1]; with ``"full"`` (``paper-full``) they are exact.
    ``aif_offload.envs.observation.ObservationLayout`` reads fields by name.

    ## Rewards

    Eq. 14 of the paper for a completed task: ``1 / latency_s + pass@100`` of the serving tier;
    ``reward.failure_reward`` of the scenario (default 0) for a failed task. ``reward="completion"``
    gives 1 per completed task instead. ``info`` carries the latency breakdown (``transmission_s``,
    ``propagation_s``, ``queueing_s``, ``compute_s``, ``latency_s``), ``completed``, ``failure`` (a
    reason name, ``kv_cache_overflow`` among them when output lengths are predicted), ``accuracy``,
    the rewardless ``guidance`` (eq. 11) and ``reward_eq14``; and the hidden truth at dispatch, for
    belief diagnostics only (agents must not act on it): ``true_load`` (3 x S, used fractions, other
    tenants included), ``true_tenant_gpus`` and ``true_tenant_regime`` (S), ``true_speed_factor``
    (S) and ``true_output_tokens``.

    ## Starting State

    Every server idle with all resources free (other tenants, if any, at a draw from their
    stationary law); terminal positions, headings and speeds, the task list (arrival times,
    terminals, token counts), all channel draws and the hidden world's paths come from the reset
    seed; each server's hidden speed from the world seed (``options={"world_seed": w}``, default the
    reset seed; kept over ``reset()`` calls without a seed).

    ## Episode End

    The episode is truncated (``truncated=True``) after its last task, ``episode.tasks_per_episode``
    x ``load_percent / 100`` tasks; it never terminates. ``max_episode_steps`` of ``gym.make`` can cut
    it earlier.

    ## Arguments

    ``gym.make("aif_offload/CloudEdgeLLM-v0", scenario="paper", t_max_s=None, load_percent=None,
    flatten_actions=False, reward="eq14", render_mode=None)``: ``scenario`` is an embedded name, a
    TOML path or a ``Scenario``; ``t_max_s`` and ``load_percent`` override the scenario's deadline
    and load. ``render_mode="rgb_array"`` makes ``render()`` return an image of what the agent
    observes: one column per server, bars of the reported compute, bandwidth and memory left
    (so a rendering never shows the hidden state). ``gymnasium.make_vec(..., vectorization_mode=
    "vector_entry_point")`` builds the batched ``CloudEdgeLLMVectorEnv``.

    ## Version History

    * v0: initial version; later additions (hidden-world scenario options, ``gap_s`` under
      ``observation.clock``, ``true_*`` info keys, world seeds, ``render_mode="rgb_array"``) leave every existing scenario's
      trajectories unchanged.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        scenario: Scenario | str = "paper",
        *,
        t_max_s: float | None = None,
        load_percent: float | None = None,
        flatten_actions: bool = False,
        reward: RewardKind = "eq14",
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: unknown mode {render_mode!r}, allowed: None, "
                + ", ".join(self.metadata["render_modes"])
            )
        self.render_mode = render_mode
        self.core = EnvCore(
            scenario,
            1,
            t_max_s=t_max_s,
            load_percent=load_percent,
            flatten_actions=flatten_actions,
            reward=reward,
        )
        self.scenario = self.core.scenario
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        self._started = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        # The hidden world (server speeds) stays over episodes until a seed or a world_seed is given.
        world = (options or {}).get("world_seed", seed)
        self.core.sim.reset(
            [int(self.np_random.integers(2**63 - 1))],
            world_seeds=None if world is None else [int(world)],
        )
        self._started = True
        return self.core.observe()[0], {}

    def step(self, action) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        result, truth = self.core.step(action)
        truncated = bool(self.core.sim.done[0])
        observation = self.core.observe()[0]
        info = {key: value[0] for key, value in self.core.info(result, truth).items()}
        info = {k: v.item() if np.ndim(v) == 0 else v for k, v in info.items()}
        info["failure"] = failure_name(info["failure"])
        if truncated:
            self._started = False
        return observation, float(self.core.reward(result)[0]), False, truncated, info

    def render(self) -> np.ndarray | None:
        """With ``render_mode="rgb_array"``: (H, W, 3) uint8, the observed loads (see Arguments)."""
        if self.render_mode != "rgb_array":
            return None
        return render_loads(self.core.layout, self.core.observe()[0])

    def action_masks(self) -> np.ndarray:
        """Boolean mask for MaskablePPO (see Action Space)."""
        return self.core.action_masks()[0]

    def oracle_outcomes(self):
        """True outcomes of every action for the current task (batch dim 1): for the oracle only."""
        return self.core.oracle_outcomes()


BAR_COLOURS = {  # the three reported resources, one bar each per server
    "remaining_compute": (31, 119, 180),
    "remaining_bandwidth": (255, 127, 14),
    "remaining_memory": (44, 160, 44),
}


def render_loads(
    layout: ObservationLayout, observation: np.ndarray, *, height: int = 120
) -> np.ndarray:
    """An RGB image of one observation: per server, a bar per resource, full height = all left."""
    bar, gap = 12, 8
    width = layout.num_servers * (len(BAR_COLOURS) * bar + gap) + gap
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    for k, (field, colour) in enumerate(BAR_COLOURS.items()):
        left = np.clip(layout.get(observation, field), 0.0, 1.0)
        for server, fraction in enumerate(left):
            x = gap + server * (len(BAR_COLOURS) * bar + gap) + k * bar
            top = height - round(float(fraction) * (height - 1))
            image[top:, x : x + bar - 2] = colour
    return image
