"""Agents behind one protocol (``aif_offload.agents.base.Agent``) and the registry of their names.

Agents that need heavy libraries (JAX, torch) are registered by import path and loaded only when
used, so listing agents or running the rules never imports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module

from aif_offload.agents.base import Agent, EnvContext, Transition
from aif_offload.agents.hindsight import HindsightAgent
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
    "gp-nfsp": (
        "aif_offload.agents.gp_nfsp:GpNfspAgent",
        "GP-NFSP: one independent NFSP learner per terminal on local information only (GRU-PPO best response, supervised average policy).",
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
        HindsightAgent,
    )
}


def agent_names() -> list[str]:
    """Every registered agent name, rules first."""
    return [*AGENTS, *(n for n in LAZY_AGENTS if n not in AGENTS)]


def agent_summary(name: str) -> str:
    if "@" in name:
        return agent_class(name).summary
    if name in AGENTS:
        return AGENTS[name].summary
    if name in LAZY_AGENTS:
        return LAZY_AGENTS[name][1]
    raise ValueError(f"agent: unknown agent '{name}', allowed: {', '.join(agent_names())}")


def agent_class(name: str) -> type[Agent]:
    """The agent class registered under ``name`` (imported on first use).

    ``base@key=value[+key=value]`` names a variant of a registered agent with some
    hyperparameters changed (e.g. ``ppo@lr=1e-4``), for tuning sweeps; the agent lists the keys it
    accepts in ``hyperparameters``. Variants are built from their name in any process.
    """
    if name not in AGENTS and name in LAZY_AGENTS:
        module, _, cls = LAZY_AGENTS[name][0].partition(":")
        AGENTS[name] = getattr(import_module(module), cls)
    if name not in AGENTS and "@" in name:
        if name not in _VARIANTS:  # kept apart so listings show registered agents only
            _VARIANTS[name] = _variant(name)
        return _VARIANTS[name]
    if name not in AGENTS:
        raise ValueError(f"agent: unknown agent '{name}', allowed: {', '.join(agent_names())}")
    return AGENTS[name]


_VARIANTS: dict[str, type[Agent]] = {}


def _variant(name: str) -> type[Agent]:
    base_name, _, settings = name.partition("@")
    base = agent_class(base_name)
    allowed = base.hyperparameters
    changes = {}
    for setting in settings.split("+"):
        key, sep, text = setting.partition("=")
        if not sep or key not in allowed:
            keys = ", ".join(allowed) or "none"
            raise ValueError(
                f"agent: '{name}': '{setting}' is not key=value with a key among: {keys}"
            )
        try:
            changes[allowed[key]] = type(getattr(base, allowed[key]))(text)
        except ValueError:
            raise ValueError(f"agent: '{name}': {key} must be a number, got '{text}'") from None
    summary = f"{base.summary} Variant: {settings.replace('+', ', ')}."
    return type(base.__name__ + "Variant", (base,), {"name": name, "summary": summary, **changes})


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
