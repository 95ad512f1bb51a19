"""Who the agents that need torch or JAX are, declared without importing either.

Each declaration below is the one place its agent's name, summary, family, colour and paper
method are written; the implementation class in the heavy module inherits them by subclassing the
declaration (``class PPOAgent(declared.PPO, SB3Agent)``) and restates none of them. So listing
agents, validating ``--agents`` and building a report read the declaration, and only building the
agent imports its module. Installed packages may use the same pattern for their own heavy agents:
an entry point that names a ``Declared`` subclass.
"""

from __future__ import annotations

from typing import ClassVar

from aif_offload.agents.base import ACTIVE_INFERENCE, DEEP_RL, OTHER


class Declared:
    """An agent's identity, with ``implementation`` (``module:Class``) naming the class that
    inherits it and acts."""

    name: ClassVar[str]
    summary: ClassVar[str]
    implementation: ClassVar[str]
    family: ClassVar[str] = OTHER
    colour: ClassVar[str | None] = None
    paper_method: ClassVar[str | None] = None
    batches_seeds: ClassVar[bool] = False  # as ``Agent.batches_seeds``, readable without the import

    def __init_subclass__(cls, **kwargs) -> None:
        # Every declaration holds its whole identity itself: an implementation that also derives
        # from another agent's implementation (MaskablePPO from PPO) must not take that agent's
        # paper method or colour through the MRO.
        super().__init_subclass__(**kwargs)
        if "implementation" in vars(cls):
            for field in ("family", "colour", "paper_method", "batches_seeds"):
                if field not in vars(cls):
                    setattr(cls, field, getattr(Declared, field))


# Active inference in warm colours, deep RL in cool ones (the rules are greys and browns).
class AifPymdp(Declared):
    name = "aif-pymdp"
    summary = (
        "Discrete active inference (pymdp): beliefs over server loads, EFE over server x "
        "allocation profile, online Dirichlet learning of A and B."
    )
    family = ACTIVE_INFERENCE
    colour = "#d62728"
    implementation = "aif_offload.agents.aif_pymdp:AifPymdpAgent"


class AifPyro(Declared):
    name = "aif-pyro"
    summary = (
        "Active inference: Pyro latent-load model, Kalman belief per step, SVI refit per "
        "episode, CEM planner on expected free energy."
    )
    family = ACTIVE_INFERENCE
    colour = "#ff7f0e"
    implementation = "aif_offload.agents.aif_pyro:AifPyroAgent"
    batches_seeds = True


class AifEnsemble(Declared):
    name = "aif-ensemble"
    summary = (
        "Active inference, paper-faithful: ensemble of torch MLPs (outcome and next state), "
        "CEM planner on expected free energy."
    )
    family = ACTIVE_INFERENCE
    colour = "#e377c2"
    implementation = "aif_offload.agents.aif_ensemble:AifEnsembleAgent"
    batches_seeds = True


class PPO(Declared):
    name = "ppo"
    summary = "PPO (Stable-Baselines3) on the MultiDiscrete action, MLP policy, eq. 14 reward."
    family = DEEP_RL
    colour = "#1f77b4"
    paper_method = "PPO"
    implementation = "aif_offload.agents.drl:PPOAgent"


class MaskablePPO(Declared):
    name = "maskable-ppo"
    summary = "MaskablePPO (sb3-contrib) with the environment's per-dimension action masks."
    family = DEEP_RL
    colour = "#17becf"
    implementation = "aif_offload.agents.drl:MaskablePPOAgent"


class DQN(Declared):
    name = "dqn"
    summary = "DQN (Stable-Baselines3) on the flattened Discrete(240) action, eq. 14 reward."
    family = DEEP_RL
    colour = "#9edae5"
    implementation = "aif_offload.agents.drl:DQNAgent"


class RainbowDQN(Declared):
    name = "rainbow-dqn"
    summary = (
        "Rainbow DQN (Tianshou): C51, dueling noisy nets, prioritised replay, 3-step returns, "
        "action masks."
    )
    family = DEEP_RL
    colour = "#2ca02c"
    paper_method = "Rainbow DQN"
    implementation = "aif_offload.agents.tianshou_agents:RainbowAgent"


class DiscreteSAC(Declared):
    name = "sac"
    summary = (
        "Discrete SAC (Tianshou) on the flattened Discrete(240) action, twin critics, automatic "
        "entropy."
    )
    family = DEEP_RL
    colour = "#9467bd"
    paper_method = "SAC"
    implementation = "aif_offload.agents.tianshou_agents:DiscreteSACAgent"


class GpNfsp(Declared):
    name = "gp-nfsp"
    summary = (
        "GP-NFSP: one independent NFSP learner per terminal on local information only (GRU-PPO "
        "best response, supervised average policy)."
    )
    family = DEEP_RL
    colour = "#bcbd22"
    paper_method = "GP-NFSP"
    implementation = "aif_offload.agents.gp_nfsp:GpNfspAgent"


class PPOJax(Declared):
    name = "ppo-jax"
    summary = (
        "PPO (rejax, JAX) on the flat Discrete(240) action, seeds vmapped in one compiled "
        "run; `ppo`'s hyperparameters."
    )
    family = DEEP_RL
    colour = "#08519c"
    implementation = "aif_offload.agents.jax_rl:PPOJaxAgent"


class DQNJax(Declared):
    name = "dqn-jax"
    summary = "DQN (rejax, JAX) on the flat Discrete(240) action, seeds vmapped; `dqn`'s settings."
    family = DEEP_RL
    colour = "#6b6ecf"
    implementation = "aif_offload.agents.jax_rl:DQNJaxAgent"


class SACJax(Declared):
    name = "sac-jax"
    summary = "Discrete SAC (rejax, JAX) on the flat Discrete(240) action, seeds vmapped."
    family = DEEP_RL
    colour = "#5254a3"
    implementation = "aif_offload.agents.jax_rl:SACJaxAgent"


BUILT_IN = (
    PPO,
    MaskablePPO,
    DQN,
    RainbowDQN,
    DiscreteSAC,
    GpNfsp,
    PPOJax,
    DQNJax,
    SACJax,
    AifPyro,
    AifEnsemble,
    AifPymdp,
)
