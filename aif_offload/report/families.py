"""Which family an agent belongs to, and which of the paper's methods it stands for.

Variant names (``ppo@lr=1e-4``, from tuning runs) belong to the family of their base agent.
"""

from __future__ import annotations

AIF_AGENTS = ("aif-pymdp", "aif-pyro", "aif-ensemble")
DRL_AGENTS = ("ppo", "maskable-ppo", "dqn", "rainbow-dqn", "sac", "gp-nfsp")
RULE_AGENTS = ("random", "round-robin", "cloud-only", "edge-only", "greedy")
REFERENCE_AGENTS = ("oracle",)
# The paper's baselines (PAPER.md §4) and the agents that stand for them here.
PAPER_BASELINES = {"PPO": "ppo", "Rainbow DQN": "rainbow-dqn", "SAC": "sac", "GP-NFSP": "gp-nfsp"}


def base_name(agent: str) -> str:
    """The registered agent behind a variant name (``ppo@lr=1e-4`` -> ``ppo``)."""
    return agent.split("@", 1)[0]


def is_aif(agent: str) -> bool:
    """An active-inference agent (the paper's 'proposed' method is matched with these)."""
    return base_name(agent) in AIF_AGENTS


def is_paper_baseline(agent: str) -> bool:
    return base_name(agent) in PAPER_BASELINES.values()


def is_paper_method(agent: str) -> bool:
    """The paper's method or one of its baselines (rules and the oracle are ours only)."""
    return is_aif(agent) or is_paper_baseline(agent)


def learns(agent: str) -> bool:
    """Active-inference and deep-RL agents learn; rules and the oracle do not."""
    return is_aif(agent) or base_name(agent) in DRL_AGENTS


def agent_family(agent: str) -> str:
    """``active inference``, ``deep RL``, ``rule``, ``oracle`` or ``other``."""
    agent = base_name(agent)
    if agent in AIF_AGENTS:
        return "active inference"
    if agent in DRL_AGENTS:
        return "deep RL"
    if agent in RULE_AGENTS:
        return "rule"
    if agent in REFERENCE_AGENTS:
        return "oracle"
    return "other"
