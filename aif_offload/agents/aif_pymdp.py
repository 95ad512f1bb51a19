"""``aif-pymdp``: the discrete active-inference engine with the offloading POMDP of ``models/``.

The engine (:mod:`aif_offload.agents.discrete_engine`) runs any discrete model; this agent is the
engine with ``model = aif_offload.models.offloading_adapter:build`` (the POMDP of
``models/offloading_pomdp.py`` and its adapter), plus that model's own belief layout (loads per
server, the simulator's true load, draws of the learned load transitions). A user's model runs as
``aif-pymdp@model=path/to/my_model.py:build``; it gets the engine's generic beliefs.
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
from aif_offload.models.offloading_adapter import OffloadingAdapter, load_level
from aif_offload.models.offloading_pomdp import LOAD_LEVELS, OffloadingParams
from aif_offload.pomdp import AgentConfig

__all__ = ["AifPymdpAgent", "decision_step", "default_config", "load_level"]


class AifPymdpAgent(declared.AifPymdp, DiscreteAifAgent):
    """Active inference over a discrete offloading POMDP (``models/offloading_pomdp.py``), on pymdp.

    Each step it bins the observation (``models/offloading_adapter.py``), infers the hidden loads,
    learns A and B online, scores the 10 multi-actions (server x allocation profile) by expected
    free energy and takes one. ``params`` changes the numbers of the shipped model.
    """

    model: ClassVar[ModelSource | str] = ModelSource("aif_offload.models.offloading_adapter:build")

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
        and draws of the learned load dynamics (a user's model: the engine's generic layout).

        ArviZ InferenceData, dims ``seed, episode, step`` (+ ``server``, ``level``, ``policy``,
        factor levels). ``filtering`` (the package's own group: one distribution per step, no
        draws) holds q(s) of every factor (``q_load`` for the servers), q(pi), the negative EFE,
        its utility and information-gain parts, the VFE, the outcome surprise and the action;
        ``observed_data`` the discrete observations; ``constant_data`` the simulator's
        ``true_load`` (used fractions) and its level under the agent's binning (NaN / -1 where no
        transition was observed, e.g. frozen evaluation episodes, which the runner plays without
        ``observe``). Steps past the end of a shorter episode are NaN (-1 for integers).
        ``posterior`` holds exact draws (``chain, draw``) of every server's load-transition matrix
        from its Dirichlet posterior after the last step (:meth:`transition_draws`).
        """
        if not self._log.get("vfe"):
            return None
        if not self._shipped:
            return super().belief_data()
        stacked, coords = self._stacker()
        episode_of = np.asarray(self._log["episode"])[:, 0]
        servers = [s.name for s in self.context.scenario.servers]
        coords |= {
            "server": servers,
            "level": list(LOAD_LEVELS),
            "resource": ["compute", "bandwidth", "memory"],
        }
        t = ("seed", "episode", "step")
        posterior = {
            "q_load": (
                (*t, "server", "level"),
                np.stack([stacked(f"q_load_{s}") for s in servers], axis=3),
            )
        }
        for f in self.factors:
            if not f.startswith("load_"):
                posterior[f"q_{f}"] = ((*t, f), stacked(f"q_{f}"))
                coords[f] = list(self.spec.levels(f))
        stats = self._policy_stats(stacked)
        observed = {m: (t, stacked(f"obs_{m}")) for m in self.modalities}
        groups = {"filtering": posterior | stats, "observed_data": observed}
        if len(self._log.get("true_load", [])) == len(episode_of):  # always, when recording
            true = stacked("true_load")  # (seed, episode, step, resource, server) used fractions
            level = np.where(np.isnan(true[..., 0, :]), -1, load_level(1 - true[..., 0, :]))
            groups["constant_data"] = {
                "true_load": ((*t, "resource", "server"), true),
                "true_load_level": ((*t, "server"), level),
            }
        return self._inference_data(groups, coords, {"posterior": self.transition_draws()})

    def transition_draws(self, chains: int = 2, draws: int = 100) -> xr.Dataset:
        """Exact draws of every server's load-transition matrix from its Dirichlet posterior.

        ``load_transition`` (chain, draw, seed, server, level_next, level, target, allocation):
        p(next load level | load level, the targeted server, the allocation profile) of
        ``server``, drawn from ``Dirichlet(pB)`` (the learned counts) independently per column;
        ``chains`` x ``draws`` independent draws (R-hat near 1 and ESS near their number by
        construction). Seeded by the agent's seeds.
        """
        rng = np.random.default_rng([*map(int, self.seeds), 7_919])
        servers = [s.name for s in self.context.scenario.servers]
        shape = self.spec.B[f"load_{servers[0]}"].shape  # (level_next, level, target, allocation)
        counts = np.stack(
            [
                np.asarray(self.pymdp.pB[self.factors.index(f"load_{s}")]).reshape(-1, *shape)
                for s in servers
            ],
            axis=1,
        ).astype(float)  # pymdp keeps the control dims flattened (C order)
        gamma = rng.standard_gamma(np.broadcast_to(counts, (chains, draws, *counts.shape)))
        values = gamma / gamma.sum(axis=4, keepdims=True)
        dims = ("chain", "draw", "seed", "server", "level_next", "level", "target", "allocation")
        control_dims = self.spec.B_dims(f"load_{servers[0]}")[2:]
        coords = {
            "seed": self.seeds,
            "server": servers,
            "level_next": list(LOAD_LEVELS),
            "level": list(LOAD_LEVELS),
            "target": list(self.spec.levels(control_dims[0])),
            "allocation": list(self.spec.levels(control_dims[1])),
        }
        ds = xr.Dataset({"load_transition": (dims, values.astype(np.float32))}, coords=coords)
        ds.attrs.update(
            {
                "inference_method": "conjugate_dirichlet",
                "draws_are": "exact",
                "agent": self.name,
                "model": self.spec.name,
            }
        )
        return ds
