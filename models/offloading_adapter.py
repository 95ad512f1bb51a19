"""The environment side of ``aif-pymdp``'s model: observations -> levels, controls -> actions.

``build`` is what ``aif-pymdp`` runs (its ``model`` is ``aif_offload.models.offloading_adapter:build``):
the offloading POMDP of :mod:`aif_offload.models.offloading_pomdp` for the scenario's servers,
with :class:`OffloadingAdapter` and :func:`agent_config`. Copy both files to start a model of your
own (``docs/models.md``, "Your own model").

Observation -> modalities (the model's timing convention is in its docstring):

- ``report_<server>``: the reported compute left, in whole-GPU slots (rounded), minus the
  slots the tasks sent since the report took there (the report is ``report_delay_steps``
  old; bandwidth and memory reports are not used: the nominal allocation needs little);
- ``ledger_<server>``: the slots free by the agent's own ledger: every task it sent that got
  a slot holds it for its nominal compute time (the scenario's latency model with the
  task's prompt and predicted output), on the arrival clock (``gap_s`` where the
  observation has it, else the nominal interarrival time);
- ``outcome_<server>`` of the last task (from ``Transition.info``): completed or failed in
  the modality of the server it went to, "none" in the others and before the first task.

Action: the ``server`` control is the target; the allocation is the rules' nominal one (a
whole GPU, the least bandwidth, the least memory holding the KV cache).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from aif_offload.models.offloading_pomdp import (
    OUTCOME_LEVELS,
    model_for_scenario,
    server_facts,
    vague_concentrations,
)

from aif_offload.agents.allocation import Forecaster
from aif_offload.agents.base import EnvContext, Transition
from aif_offload.agents.discrete_engine import DiscreteModel, default_config
from aif_offload.pomdp import AgentConfig
from aif_offload.sim.llm_latency import full_gpu_compute_time_s
from aif_offload.sim.outcome import FAILURE_REASONS

# Failures at admission hold nothing; every other task (completed or not) took its compute.
REFUSED = np.array(
    [
        FAILURE_REASONS.index(r)
        for r in ("out_of_compute", "out_of_bandwidth", "out_of_memory", "memory_below_kv_need")
    ]
)


def free_units(remaining: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Free whole-GPU slots (B, S) of a reported fraction of compute left (B, S), rounded."""
    return np.clip(np.rint(np.asarray(remaining) * units), 0, units).astype(np.int64)


def agent_config(batch_size: int) -> AgentConfig:
    """The engine's default options with one fixed-point iteration of state inference: every
    modality of this model reads one factor, so the posterior factorises exactly and one
    iteration is exact (tests/pomdp: equal to 16 iterations). Not so for a model whose
    modalities read several factors; the engine's default keeps 16."""
    return replace(default_config(batch_size), num_iter=1)


class OffloadingAdapter:
    """Turns the observation into the offloading POMDP's modalities (report, ledger, outcome per
    server) and its ``server`` control into environment actions (module docstring)."""

    def __init__(self, context: EnvContext) -> None:
        self.context = context
        self.forecaster = Forecaster(context)
        self.servers = [s.name for s in context.scenario.servers]
        self.units = np.array([f.units for f in server_facts(context.scenario)])
        observation = context.scenario.observation
        self.delay = observation.report_delay_steps if observation.mode == "partial" else 0
        self.step_s = float(context.scenario.episode.interarrival_s)
        self.share = float(max(context.scenario.actions.compute_shares))
        self.begin_episode()

    def begin_episode(self) -> None:
        batch = self.context.batch_size
        self.steps = 0
        self.last_outcome = np.zeros(batch, dtype=np.int64)
        self.last_server = np.full(batch, -1, dtype=np.int64)
        # Slots taken by the tasks sent since the report was made, (B, S) each, oldest first.
        self.taken = [np.zeros((batch, self.units.size), dtype=np.int64)] * self.delay
        # The ledger: end time (s, on the arrival clock) and server of every task in flight.
        self.clock = np.zeros(batch)
        self.ledger_end = np.full((batch, int(self.units.sum())), -np.inf)
        self.ledger_server = np.zeros((batch, int(self.units.sum())), dtype=np.int64)
        self.pending: tuple[np.ndarray, np.ndarray] | None = None

    def observe_levels(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        layout = self.context.layout
        if layout.clock:  # the arrival clock of the ledger
            self.clock = self.clock + layout.get(observation, "gap_s")
        elif self.steps > 0:
            self.clock = self.clock + self.step_s
        self.steps += 1
        return self.levels(observation)

    def levels(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        """The modalities of ``observation`` on the current clock (does not advance it)."""
        layout = self.context.layout
        reported = free_units(layout.get(observation, "remaining_compute"), self.units)
        corrected = np.clip(reported - sum(self.taken, np.zeros_like(reported)), 0, self.units)
        busy = self.ledger_end > self.clock[:, None]
        in_flight = np.stack(
            [(busy & (self.ledger_server == j)).sum(1) for j in range(len(self.servers))], 1
        )
        ledger = np.clip(self.units - in_flight, 0, self.units)
        obs = {}
        for j, s in enumerate(self.servers):
            obs[f"report_{s}"] = corrected[:, j]
            obs[f"ledger_{s}"] = ledger[:, j]
        for j, s in enumerate(self.servers):
            obs[f"outcome_{s}"] = np.where(self.last_server == j, self.last_outcome, 0)
        return obs

    def to_action(self, observation: np.ndarray, controls: dict[str, np.ndarray]) -> np.ndarray:
        server = controls["server"]
        action = self.forecaster.nominal_allocation(observation, server)
        self.pending = (server, self._nominal_compute_s(observation, server))
        return action

    def observe(self, transition: Transition) -> None:
        info = transition.info
        completed = np.asarray(info["completed"]).astype(bool)
        self.last_outcome = np.where(
            completed, OUTCOME_LEVELS.index("completed"), OUTCOME_LEVELS.index("failed")
        )
        self.last_server = np.asarray(transition.action)[:, 0].astype(np.int64)
        held = ~np.isin(np.asarray(info["failure"]).astype(np.int64), REFUSED)
        if self.taken:
            took = np.zeros_like(self.taken[-1])
            took[np.arange(took.shape[0]), self.last_server] = held
            self.taken = [*self.taken[1:], took]
        if self.pending is not None:  # the ledger: an admitted task holds its slot
            rows = np.flatnonzero(held)
            slot = np.argmin(self.ledger_end[rows], axis=1)  # a finished (or empty) entry
            self.ledger_end[rows, slot] = self.clock[rows] + self.pending[1][rows]
            self.ledger_server[rows, slot] = self.last_server[rows]
            self.pending = None

    def _nominal_compute_s(self, observation: np.ndarray, server: np.ndarray) -> np.ndarray:
        """Nominal compute time (s) of this task on ``server`` (B,) with the whole-GPU share."""
        layout = self.context.layout
        prompt = np.rint(1000 * layout.get(observation, "prompt_ktokens"))
        output = np.rint(1000 * layout.get(observation, "output_ktokens"))
        out = np.empty(server.shape)
        for j, profile in enumerate(self.forecaster.servers.profiles):
            here = server == j
            if here.any():
                out[here] = full_gpu_compute_time_s(profile, prompt[here], output[here])
        return out / self.share


def build(agent) -> DiscreteModel:
    """``aif-pymdp``'s model: the offloading POMDP for the agent's scenario (with the agent's
    ``params``, if it has any), its adapter and :func:`agent_config`; under the agent's
    ``prior`` ``vague``, the wide Dirichlet counts of ``vague_concentrations``."""
    context = agent.context
    spec = model_for_scenario(context.scenario, getattr(agent, "params", None))
    outcomes = tuple(m for m in spec.modalities if m.startswith("outcome_"))
    config = agent_config(context.batch_size)
    vague = str(getattr(agent, "prior", "nominal")) == "vague"
    return DiscreteModel(
        spec,
        OffloadingAdapter(context),
        config=config,
        outcome_modalities=outcomes,
        concentrations=vague_concentrations(spec, config.pB_scale) if vague else None,
    )
