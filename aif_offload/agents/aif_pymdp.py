"""``aif-pymdp``: the discrete active-inference engine with the offloading POMDP of ``models/``.

The engine (:mod:`aif_offload.agents.discrete_engine`) runs any discrete model; this agent is the
engine with ``model = aif_offload.models.offloading_adapter:build`` (the POMDP of
``models/offloading_pomdp.py``, its adapter and options), plus that model's own belief layout
(free compute units per server, the simulator's true load, draws of the learned release
dynamics). A user's model runs as ``aif-pymdp@model=path/to/my_model.py:build``; it gets the
engine's generic beliefs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import xarray as xr

from aif_offload.agents import declared
from aif_offload.agents.base import EnvContext, Transition
from aif_offload.agents.discrete_engine import (
    DiscreteAifAgent,
    DiscreteModel,
    decision_step,
    default_config,
)
from aif_offload.agents.model_source import ModelSource
from aif_offload.agents.priors import PRIORS, Prior
from aif_offload.models.offloading_adapter import OffloadingAdapter, agent_config, free_units
from aif_offload.models.offloading_pomdp import OffloadingParams
from aif_offload.pomdp import AgentConfig

__all__ = ["AifPymdpAgent", "agent_config", "decision_step", "default_config", "free_units"]


class AifPymdpAgent(declared.AifPymdp, DiscreteAifAgent):
    """Active inference over a discrete offloading POMDP (``models/offloading_pomdp.py``), on pymdp.

    Each step it turns the observation into the model's modalities
    (``models/offloading_adapter.py``), infers every server's free compute units, learns A and B
    online, scores the servers by expected free energy and sends the task to one, with the
    nominal allocation. ``params`` changes the numbers of the shipped model.
    """

    model: ClassVar[ModelSource | str] = ModelSource("aif_offload.models.offloading_adapter:build")
    # ``@prior=vague``: the learned A / B start from weak, flat Dirichlet counts where the nominal
    # view speaks of speeds and tenants (``models/offloading_pomdp.py:vague_concentrations``).
    prior: ClassVar[Prior] = Prior("nominal")
    priors: ClassVar[tuple[str, ...]] = PRIORS
    hyperparameters: ClassVar[dict[str, str]] = {"model": "model", "prior": "prior"}

    def __init__(
        self,
        context: EnvContext,
        *,
        seeds: Sequence[int],
        config: AgentConfig | None = None,
        params: OffloadingParams | None = None,
        record: bool = True,
        model: DiscreteModel | None = None,
    ) -> None:
        self.params = params  # read by the shipped model's build
        super().__init__(context, seeds=seeds, model=model, config=config, record=record)

    @property
    def _shipped(self) -> bool:
        """Whether the model is the shipped offloading POMDP (its belief layout applies)."""
        return isinstance(self.adapter, OffloadingAdapter)

    @property
    def units(self) -> np.ndarray:
        """Whole-GPU slots of every server (the shipped model's)."""
        return self.adapter.units

    def _record_step(self, out, obs, vfe, surprise, action) -> None:
        super()._record_step(out, obs, vfe, surprise, action)
        if self._shipped:
            # The truth arrives with the transition (observe); NaN if the runner sends none.
            servers = len(self.context.scenario.servers)
            self._append("true_load", np.full((len(action), 3, servers), np.nan))

    def observe(self, transition: Transition) -> None:
        super().observe(transition)
        info = transition.info
        if self.record and "true_load" in info and self._log.get("true_load"):
            self._log["true_load"][-1] = np.asarray(info["true_load"], dtype=float)

    def belief_data(self):
        """Per-step beliefs, policy posterior, EFE terms and observations, with the true load,
        and draws of the learned release dynamics (a user's model: the engine's generic layout).

        ArviZ InferenceData, dims ``seed, episode, step`` (+ ``server``, ``level``, ``policy``,
        factor levels). ``filtering`` (the package's own group: one distribution per step, no
        draws) holds q(s) of every factor (``q_load``: q(free units) of every server, padded to
        the largest unit count), q(pi), the negative EFE, its utility and information-gain parts,
        the VFE, the outcome surprise and the action; ``observed_data`` the discrete
        observations; ``constant_data`` the simulator's ``true_load`` (used fractions) and the
        true free units (``true_load_level``; NaN / -1 where no transition was observed, e.g.
        frozen evaluation episodes, which the runner plays without ``observe``). Steps past the
        end of a shorter episode are NaN (-1 for integers). ``posterior`` holds exact draws
        (``chain, draw``) of every server's free-unit transition matrix from its Dirichlet
        posterior after the last step (:meth:`transition_draws`).
        """
        if not self._log.get("vfe"):
            return None
        if not self._shipped:
            return super().belief_data()
        stacked, coords = self._stacker()
        episode_of = np.asarray(self._log["episode"])[:, 0]
        servers = [s.name for s in self.context.scenario.servers]
        width = int(self.units.max()) + 1  # q_load pads every server to the largest unit count
        coords |= {
            "server": servers,
            "level": [str(k) for k in range(width)],
            "resource": ["compute", "bandwidth", "memory"],
        }
        t = ("seed", "episode", "step")

        def padded(f: str) -> np.ndarray:
            q = stacked(f"q_{f}")
            return np.concatenate([q, np.zeros((*q.shape[:-1], width - q.shape[-1]))], axis=-1)

        posterior = {
            "q_load": (
                (*t, "server", "level"),
                np.stack([padded(f"free_{s}") for s in servers], axis=3),
            )
        }
        for f in self.factors:
            if not f.startswith("free_"):
                posterior[f"q_{f}"] = ((*t, f), stacked(f"q_{f}"))
                coords[f] = list(self.spec.levels(f))
        stats = self._policy_stats(stacked)
        observed = {m: (t, stacked(f"obs_{m}")) for m in self.modalities}
        groups = {"filtering": posterior | stats, "observed_data": observed}
        if len(self._log.get("true_load", [])) == len(episode_of):  # always, when recording
            true = stacked("true_load")  # (seed, episode, step, resource, server) used fractions
            # q(free) at step t is about this task's arrival, as is the truth recorded with it.
            level = np.where(
                np.isnan(true[..., 0, :]),
                -1,
                free_units(1 - np.nan_to_num(true[..., 0, :]), self.units),
            )
            groups["constant_data"] = {
                "true_load": ((*t, "resource", "server"), true),
                "true_load_level": ((*t, "server"), level),
            }
        return self._inference_data(groups, coords, {"posterior": self.transition_draws()})

    def transition_draws(self, chains: int = 2, draws: int = 100) -> xr.Dataset:
        """Exact draws of every server's free-unit transition matrix from its Dirichlet posterior.

        ``load_transition_<server>`` (chain, draw, seed, free_<server>_next, free_<server>, target):
        p(next free units | free units, the server this step's task is sent to) of ``server``,
        drawn from ``Dirichlet(pB)`` (the learned counts) independently per column; ``chains`` x
        ``draws`` independent draws (R-hat near 1 and ESS near their number by construction).
        Seeded by the agent's seeds.
        """
        rng = np.random.default_rng([*map(int, self.seeds), 7_919])
        variables, coords = {}, {"seed": self.seeds, "target": list(self.spec.levels("server"))}
        for s in self.context.scenario.servers:
            factor = f"free_{s.name}"
            counts = np.asarray(self.pymdp.pB[self.factors.index(factor)], dtype=float)
            counts = counts.reshape(-1, *self.spec.B[factor].shape)  # pymdp's trivial control axis
            gamma = rng.standard_gamma(np.broadcast_to(counts, (chains, draws, *counts.shape)))
            values = gamma / gamma.sum(axis=3, keepdims=True)  # (chain, draw, seed, next, ...)
            dims = ("chain", "draw", "seed", f"{factor}_next", factor, "target")
            variables[f"load_transition_{s.name}"] = (dims, values.astype(np.float32))
            coords[factor] = coords[f"{factor}_next"] = list(self.spec.levels(factor))
        ds = xr.Dataset(variables, coords=coords)
        ds.attrs.update(
            {
                "inference_method": "conjugate_dirichlet",
                "draws_are": "exact",
                "agent": self.name,
                "model": self.spec.name,
            }
        )
        return ds
