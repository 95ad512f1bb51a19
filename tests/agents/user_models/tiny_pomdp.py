"""A user's discrete model, written outside the package: run with
``--agents aif-pymdp@model=tests/agents/user_models/tiny_pomdp.py:build``.

Its own names throughout: one control ``target`` (cloud or the roomiest edge), a hidden
``edge_crowd`` (calm / crowded) that the edges' reported room reveals, and the ``verdict`` of the
last task (met / missed its deadline), preferred met.
"""

from __future__ import annotations

import numpy as np

from aif_offload.agents.allocation import Forecaster
from aif_offload.agents.discrete_engine import DiscreteModel
from aif_offload.pomdp import Control, Factor, Modality, ModelSpec

ROOM = np.array([[0.9, 0.2], [0.1, 0.8]])  # P(edge_room | edge_crowd): roomy / cramped
INITIAL_CROWD = np.array([0.7, 0.3])  # calm, crowded


def tiny_spec() -> ModelSpec:
    spec = ModelSpec(
        "tiny",
        factors=[
            Factor("edge_crowd", ("calm", "crowded"), controls=("target",)),
            Factor("route", ("none", "cloud", "edge"), controls=("target",)),
        ],
        modalities=[
            Modality("edge_room", ("roomy", "cramped"), depends_on=("edge_crowd",)),
            Modality("verdict", ("none", "met", "missed"), depends_on=("route", "edge_crowd")),
        ],
        controls=[Control("target", ("cloud", "edge"))],
    )
    # Sending to the edges crowds them; sending to the cloud lets them calm down.
    spec.set_transition("edge_crowd", [0.7, 0.3], edge_crowd="calm", target="edge")
    spec.set_transition("edge_crowd", [0.05, 0.95], edge_crowd="crowded", target="edge")
    spec.set_transition("edge_crowd", [0.95, 0.05], edge_crowd="calm", target="cloud")
    spec.set_transition("edge_crowd", [0.2, 0.8], edge_crowd="crowded", target="cloud")
    for target in ("cloud", "edge"):
        spec.set_transition("route", {target: 1.0}, target=target)
    spec.set_initial("edge_crowd", INITIAL_CROWD)
    spec.set_initial("route", {"none": 1.0})
    for j, level in enumerate(("calm", "crowded")):
        spec.set_likelihood("edge_room", ROOM[:, j], edge_crowd=level)
    spec.set_likelihood("verdict", {"none": 1.0}, route="none")
    spec.set_likelihood("verdict", [0.01, 0.89, 0.1], route="cloud")
    spec.set_likelihood("verdict", [0.01, 0.84, 0.15], route="edge", edge_crowd="calm")
    spec.set_likelihood("verdict", [0.01, 0.29, 0.7], route="edge", edge_crowd="crowded")
    spec.set_preference("verdict", {"met": 2.0, "missed": -3.0})
    return spec


class TinyAdapter:
    def __init__(self, context) -> None:
        self.context = context
        self.forecaster = Forecaster(context)  # the rules' nominal allocation for a server
        kinds = [s.kind for s in context.scenario.servers]
        self.cloud = kinds.index("cloud")
        self.edges = np.array([k != "cloud" for k in kinds])
        self.t_max = float(context.scenario.episode.t_max_s)
        self.begin_episode()

    def begin_episode(self) -> None:
        self.verdict = np.zeros(self.context.batch_size, dtype=np.int64)  # "none"

    def observe_levels(self, observation):
        left = self.context.layout.get(observation, "remaining_compute")[:, self.edges]
        return {
            "edge_room": (left.mean(axis=1) <= 0.5).astype(np.int64),
            "verdict": self.verdict,
        }

    def to_action(self, observation, controls):
        left = self.context.layout.get(observation, "remaining_compute")
        roomiest_edge = np.where(self.edges, left, -np.inf).argmax(axis=1)
        server = np.where(controls["target"] == 0, self.cloud, roomiest_edge)
        return self.forecaster.nominal_allocation(observation, server)

    def observe(self, transition) -> None:
        met = np.asarray(transition.info["completed"]).astype(bool)
        self.verdict = np.where(met, 1, 2)


def build(agent) -> DiscreteModel:
    return DiscreteModel(tiny_spec(), TinyAdapter(agent.context), outcome_modalities=("verdict",))


def build_wrong(agent):
    """A builder that returns the wrong thing (for the error-message test)."""
    return tiny_spec()
