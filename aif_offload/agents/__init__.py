"""Agents behind one protocol (``aif_offload.agents.base.Agent``) and the one registry of them.

Every agent declares its identity on its class (``name``, ``summary``, ``family``, ``colour``,
``paper_method``). Agents that need heavy libraries (JAX, torch) are registered by a light
declaration (``declared.py``) that their class inherits, and imported only when built, so listing
agents or running the rules never imports them. Users add agents with ``register_agent``, an entry
point in the group ``aif_offload.agents``, or a spec ``module:Class`` / ``path/to/file.py:Class``
(``registry.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from aif_offload.agents import declared
from aif_offload.agents.base import FAMILIES, Agent, EnvContext, Transition
from aif_offload.agents.hindsight import HindsightAgent
from aif_offload.agents.oracle import OracleAgent
from aif_offload.agents.registry import (
    AGENTS,
    ENTRY_POINT_GROUP,
    AgentInfo,
    agent_class,
    agent_info,
    agent_names,
    register_agent,
    register_built_in,
    resolve_agents,
)
from aif_offload.agents.rules import (
    CloudOnlyAgent,
    EdgeOnlyAgent,
    GreedyAgent,
    RandomAgent,
    RoundRobinAgent,
)

register_built_in(
    RandomAgent,
    RoundRobinAgent,
    CloudOnlyAgent,
    EdgeOnlyAgent,
    GreedyAgent,
    OracleAgent,
    HindsightAgent,
    *declared.BUILT_IN,
)


def agent_summary(spec: str) -> str:
    """The one-line summary of the agent ``spec`` names."""
    return agent_info(spec).summary


def make_agent(spec: str, context: EnvContext, *, seeds: Sequence[int]) -> Agent:
    """Build agent ``spec`` for ``context.batch_size`` environments, one seed each."""
    return agent_class(spec)(context, seeds=seeds)


__all__ = [
    "AGENTS",
    "ENTRY_POINT_GROUP",
    "FAMILIES",
    "Agent",
    "AgentInfo",
    "EnvContext",
    "Transition",
    "agent_class",
    "agent_info",
    "agent_names",
    "agent_summary",
    "make_agent",
    "register_agent",
    "resolve_agents",
]
