"""A user's module that registers its agent when imported (in the importing process only)."""

from __future__ import annotations

from aif_offload.agents import register_agent
from aif_offload.agents.rules import GreedyAgent


@register_agent
class RegisteredAgent(GreedyAgent):
    name = "registered-agent"
    summary = "Greedy, registered by a user's module on import."
    family = "heuristic"
