"""The environment side of ``aif-pymdp``'s model: observations -> levels, controls -> actions.

``build`` is what ``aif-pymdp`` runs (its ``model`` is ``aif_offload.models.offloading_adapter:build``):
the offloading POMDP of :mod:`aif_offload.models.offloading_pomdp` for the scenario's servers,
with :class:`OffloadingAdapter`. Copy both files to start a model of your own
(``docs/models.md``, "Your own model").

Observation binning (modalities of the model):

- ``report_<server>``: reported compute left r: free if r > 0.6, busy if 0.2 < r <= 0.6,
  full if r <= 0.2 (bandwidth and memory reports are not used: the nominal allocation
  needs little of either);
- ``outcome_<server>`` of the last task (from ``Transition.info``), in the modality of the server
  it went to ("none" in the others): fast if completed within t_max / 3, slow if completed later,
  failed otherwise; "none" before the first task of an episode;
- ``accuracy`` tier of the last task: cloud-tier / edge-tier by where it completed, "none"
  if it failed;
- ``distance``: near if the nearest edge is within 0.5 km;
- ``task_size``: long if the prompt has at least 256 tokens.

Actions: the ``server`` control is the target; the ``allocation`` control picks the profile
``whole`` (the rules' nominal allocation: a whole GPU, the least bandwidth, the least memory
holding the KV cache) or ``half`` (the same with half a GPU).
"""

from __future__ import annotations

import numpy as np
from aif_offload.models.offloading_pomdp import (
    ACCURACY_LEVELS,
    LOAD_BINS,
    OUTCOME_LEVELS,
    model_for_scenario,
)

from aif_offload.agents.allocation import Forecaster
from aif_offload.agents.base import EnvContext, Transition
from aif_offload.agents.discrete_engine import DiscreteModel

NEAR_KM = 0.5  # nearest edge closer than this -> distance "near"
LONG_PROMPT_TOKENS = 256  # prompt of at least this many tokens -> task "long"


def load_level(remaining: np.ndarray) -> np.ndarray:
    """Index into LOAD_LEVELS of a fraction of compute left (thresholds LOAD_BINS)."""
    return np.searchsorted(-np.asarray(LOAD_BINS), -np.asarray(remaining), side="right")


class OffloadingAdapter:
    """Bins the observation into the offloading POMDP's modalities and turns its ``server`` and
    ``allocation`` controls into environment actions (module docstring)."""

    def __init__(self, context: EnvContext) -> None:
        self.context = context
        self.forecaster = Forecaster(context)
        self.servers = [s.name for s in context.scenario.servers]
        self.is_cloud = np.array([s.kind == "cloud" for s in context.scenario.servers])
        shares = np.asarray(context.scenario.actions.compute_shares)
        self.half_compute = int(np.abs(shares - 0.5).argmin())
        self.t_max = float(context.scenario.episode.t_max_s)
        self.begin_episode()

    def begin_episode(self) -> None:
        batch = self.context.batch_size
        self.last_outcome = np.zeros(batch, dtype=np.int64)
        self.last_server = np.full(batch, -1, dtype=np.int64)
        self.last_accuracy = np.zeros(batch, dtype=np.int64)

    def observe_levels(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        layout = self.context.layout
        levels = load_level(layout.get(observation, "remaining_compute"))
        obs = {f"report_{s}": levels[:, j] for j, s in enumerate(self.servers)}
        distance = layout.get(observation, "distance_km")
        edges = distance[:, ~self.is_cloud] if (~self.is_cloud).any() else distance
        obs["distance"] = (edges.min(axis=1) >= NEAR_KM).astype(np.int64)
        prompt = 1000 * layout.get(observation, "prompt_ktokens")
        obs["task_size"] = (np.rint(prompt) >= LONG_PROMPT_TOKENS).astype(np.int64)
        for j, s in enumerate(self.servers):
            here = self.last_server == j
            obs[f"outcome_{s}"] = np.where(here, self.last_outcome, 0)
        obs["accuracy"] = self.last_accuracy
        return obs

    def to_action(self, observation: np.ndarray, controls: dict[str, np.ndarray]) -> np.ndarray:
        action = self.forecaster.nominal_allocation(observation, controls["server"])
        action[controls["allocation"] == 1, 1] = self.half_compute
        return action

    def observe(self, transition: Transition) -> None:
        info = transition.info
        completed = np.asarray(info["completed"]).astype(bool)
        fast = np.asarray(info["latency_s"]) <= self.t_max / 3
        self.last_outcome = np.where(
            completed,
            np.where(fast, OUTCOME_LEVELS.index("fast"), OUTCOME_LEVELS.index("slow")),
            OUTCOME_LEVELS.index("failed"),
        )
        self.last_server = np.asarray(transition.action)[:, 0].astype(np.int64)
        cloud = self.is_cloud[self.last_server]
        tier = np.where(
            cloud, ACCURACY_LEVELS.index("cloud-tier"), ACCURACY_LEVELS.index("edge-tier")
        )
        self.last_accuracy = np.where(completed, tier, ACCURACY_LEVELS.index("none"))


def build(agent) -> DiscreteModel:
    """``aif-pymdp``'s model: the offloading POMDP for the agent's scenario (with the agent's
    ``params``, if it has any) and its adapter."""
    context = agent.context
    spec = model_for_scenario(context.scenario, getattr(agent, "params", None))
    outcomes = tuple(m for m in spec.modalities if m.startswith("outcome_"))
    return DiscreteModel(spec, OffloadingAdapter(context), outcome_modalities=outcomes)
