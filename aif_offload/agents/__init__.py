"""Agents behind one protocol (``aif_offload.agents.base.Agent``) and the registry of their names."""

from __future__ import annotations

from collections.abc import Sequence

from aif_offload.agents.base import Agent, EnvContext, Transition
from aif_offload.agents.oracle import OracleAgent
from aif_offload.agents.rules import (
    CloudOnlyAgent,
    EdgeOnlyAgent,
    GreedyAgent,
    RandomAgent,
    RoundRobinAgent,
)

AGENTS: dict[str, type[Agent]] = {
    cls.name: cls
    for cls in (
        RandomAgent,
        RoundRobinAgent,
        CloudOnlyAgent,
        EdgeOnlyAgent,
        GreedyAgent,
        OracleAgent,
    )
}


def agent_class(name: str) -> type[Agent]:
    """The agent class registered under ``name``."""
    if name not in AGENTS:
        raise ValueError(f"agent: unknown agent '{name}', allowed: {', '.join(AGENTS)}")
    return AGENTS[name]


def make_agent(name: str, context: EnvContext, *, seeds: Sequence[int]) -> Agent:
    """Build agent ``name`` for ``context.batch_size`` environments, one seed each."""
    return agent_class(name)(context, seeds=seeds)


__all__ = ["AGENTS", "Agent", "EnvContext", "Transition", "agent_class", "make_agent"]
