"""Which family an agent belongs to, its colour, and which of the paper's methods it stands for.

All of it is what the agent's class declares (``aif_offload.agents.base.Agent``). An agent the
registry knows by name (the built-ins, registered classes, installed entry points) is read from
its class or its light declaration, so no torch or JAX is imported. An agent that ran from
``module:Class`` or ``path.py:Class`` is read from what its class declared when it ran, recorded in
``results.nc`` (``agents_json``) and handed here by ``remember`` as experiments are loaded: a
report never imports a user's file, and still works when that file is gone. Unknown to both:
family ``other`` and a colour picked from the name. Variant names (``ppo@lr=1e-4``) belong to
the family of their base agent.
"""

from __future__ import annotations

import json

from aif_offload.agents import AGENTS, AgentInfo, agent_info
from aif_offload.agents.base import ACTIVE_INFERENCE, DEEP_RL, OTHER

# Identities recorded with results, for agents the registry does not know: name -> record.
_RECORDED: dict[str, dict] = {}


_FOUND: dict[str, AgentInfo | None] = {}


def remember(agents_json: str | None) -> None:
    """Keep the identities a results file recorded (its ``agents_json`` attribute)."""
    try:
        records = json.loads(agents_json or "{}")
    except json.JSONDecodeError:
        return
    if isinstance(records, dict):
        _RECORDED.update({str(k): v for k, v in records.items() if isinstance(v, dict)})
        _FOUND.clear()


def info(agent: str) -> AgentInfo | None:
    """The identity of an agent named in results, or None if neither registry nor record knows it."""
    if agent not in _FOUND:
        _FOUND[agent] = _lookup(agent)
    return _FOUND[agent]


def _lookup(agent: str) -> AgentInfo | None:
    try:
        return agent_info(agent)
    except ValueError:
        pass
    record = _RECORDED.get(agent) or _RECORDED.get(base_name(agent))
    if record is None:
        return None
    text = {k: record.get(k) if isinstance(record.get(k), str) else None for k in record}
    return AgentInfo(
        agent,
        text.get("summary") or "",
        text.get("family") or OTHER,
        text.get("colour") if "@" not in agent else None,
        text.get("paper_method"),
        text.get("source") or agent,
    )


# The paper's baselines (PAPER.md §4) and the agents that stand for them here.
PAPER_BASELINES = {
    cls.paper_method: cls.name for cls in AGENTS.values() if cls.paper_method is not None
}


def base_name(agent: str) -> str:
    """The registered agent behind a variant name (``ppo@lr=1e-4`` -> ``ppo``)."""
    return agent.split("@", 1)[0]


def agent_family(agent: str) -> str:
    """The declared family: ``active inference``, ``deep RL``, ``rule``, ``oracle``, a family of
    the agent's own, or ``other``."""
    found = info(agent)
    return found.family if found is not None else OTHER


def agent_colour(agent: str) -> str | None:
    found = info(agent)
    return found.colour if found is not None else None


def is_aif(agent: str) -> bool:
    """An active-inference agent (the paper's 'proposed' method is matched with these)."""
    return agent_family(agent) == ACTIVE_INFERENCE


def is_paper_baseline(agent: str) -> bool:
    found = info(agent)
    return found is not None and found.paper_method in PAPER_BASELINES


def is_paper_method(agent: str) -> bool:
    """The paper's method or one of its baselines (rules and the oracle are ours only)."""
    return is_aif(agent) or is_paper_baseline(agent)


def learns(agent: str) -> bool:
    """Active-inference and deep-RL agents learn; rules and the oracle do not."""
    return agent_family(agent) in (ACTIVE_INFERENCE, DEEP_RL)
