"""Agents behind one protocol (``aif_offload.agents.base.Agent``) and the registry of their names.

Agents that need heavy libraries (JAX, torch) are registered by import path and loaded only when
used, so listing agents or running the rules never imports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module

from aif_offload.agents.base import Agent, EnvContext, Transition
from aif_offload.agents.oracle import OracleAgent
from aif_offload.agents.rules import (
    CloudOnlyAgent,
    EdgeOnlyAgent,
    GreedyAgent,
    RandomAgent,
    RoundRobinAgent,
)

# name -> (module:Class, one-line summary); the class's own ``summary`` must match (tested).
LAZY_AGENTS: dict[str, tuple[str, str]] = {
    "ppo": (
        "aif_offload.agents.drl:PPOAgent",
        "PPO (Stable-Baselines3) on the MultiDiscrete action, MLP policy, eq. 14 reward.",
    ),
    "maskable-ppo": (
        "aif_offload.agents.drl:MaskablePPOAgent",
        "MaskablePPO (sb3-contrib) with the environment's per-dimension action masks.",
    ),
    "dqn": (
        "aif_offload.agents.drl:DQNAgent",
        "DQN (Stable-Baselines3) on the flattened Discrete(240) action, eq. 14 reward.",
    ),
    "rainbow-dqn": (
        "aif_offload.agents.tianshou_agents:RainbowAgent",
        "Rainbow DQN (Tianshou): C51, dueling noisy nets, prioritised replay, 3-step returns, action masks.",
    ),
    "sac": (
        "aif_offload.agents.tianshou_agents:DiscreteSACAgent",
        "Discrete SAC (Tianshou) on the flattened Discrete(240) action, twin critics, automatic entropy.",
    ),
    "aif-pyro": (
        "aif_offload.agents.aif_pyro:AifPyroAgent",
        "Active inference: Pyro latent-load model, Kalman belief per step, SVI refit per episode, CEM planner on expected free energy.",
    ),
    "aif-ensemble": (
        "aif_offload.agents.aif_ensemble:AifEnsembleAgent",
        "Active inference, paper-faithful: ensemble of torch MLPs (outcome and next state), CEM planner on expected free energy.",
    ),
    "aif-pymdp": (
        "aif_offload.agents.aif_pymdp:AifPymdpAgent",
        "Discrete active inference (pymdp): beliefs over server loads, EFE over server x allocation profile, online Dirichlet learning of A and B.",
    ),
}

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


def agent_names() -> list[str]:
    """Every registered agent name, rules first."""
    return [*AGENTS, *(n for n in LAZY_AGENTS if n not in AGENTS)]


def agent_summary(name: str) -> str:
    if name in AGENTS:
        return AGENTS[name].summary
    if name in LAZY_AGENTS:
        return LAZY_AGENTS[name][1]
    raise ValueError(f"agent: unknown agent '{name}', allowed: {', '.join(agent_names())}")


def agent_class(name: str) -> type[Agent]:
    """The agent class registered under ``name`` (imported on first use)."""
    if name not in AGENTS and name in LAZY_AGENTS:
        module, _, cls = LAZY_AGENTS[name][0].partition(":")
        AGENTS[name] = getattr(import_module(module), cls)
    if name not in AGENTS:
        raise ValueError(f"agent: unknown agent '{name}', allowed: {', '.join(agent_names())}")
    return AGENTS[name]


def make_agent(name: str, context: EnvContext, *, seeds: Sequence[int]) -> Agent:
    """Build agent ``name`` for ``context.batch_size`` environments, one seed each."""
    return agent_class(name)(context, seeds=seeds)


__all__ = [
    "AGENTS",
    "LAZY_AGENTS",
    "Agent",
    "EnvContext",
    "Transition",
    "agent_class",
    "agent_names",
    "agent_summary",
    "make_agent",
]
