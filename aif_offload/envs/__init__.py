"""Gymnasium environments over the batched simulator."""

from __future__ import annotations

import gymnasium as gym

ENV_ID = "aif_offload/CloudEdgeLLM-v0"


def register_envs() -> None:
    """Register ``aif_offload/CloudEdgeLLM-v0`` with its single and batched (``gymnasium.make_vec``
    with ``vectorization_mode="vector_entry_point"``) forms; idempotent, the modules load lazily."""
    if ENV_ID not in gym.registry:
        gym.register(
            id=ENV_ID,
            entry_point="aif_offload.envs.cloud_edge:CloudEdgeLLMEnv",
            vector_entry_point="aif_offload.envs.vector:CloudEdgeLLMVectorEnv",
        )
