"""Gymnasium environments over the batched simulator."""

from __future__ import annotations

import gymnasium as gym

ENV_ID = "aif_offload/CloudEdgeLLM-v0"


def register_envs() -> None:
    """Register ``aif_offload/CloudEdgeLLM-v0`` (idempotent; the env module loads lazily)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="aif_offload.envs.cloud_edge:CloudEdgeLLMEnv")
