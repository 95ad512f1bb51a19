"""The one agent protocol every agent implements: rules, the oracle, active inference, deep RL.

Agents act on a batch: ``act`` takes observations (B, obs_dim) and returns integer actions (B, 4),
one independent environment per row. Learners also receive every transition through ``observe``.
Only agents with ``needs_truth`` (the oracle, ``hindsight``) are handed the simulator's true
outcomes of the current task, and only ``needs_episode_truth`` ones (``hindsight``) the whole
episode in advance, through ``see_episode``. Agents with
``needs_terminal`` (decentralised per-device agents such as ``gp-nfsp``) are told before every
``act``, through ``set_terminals``, which terminal issues each row's current task: not privileged
information, since a device knows who it is; the observation itself does not carry it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from aif_offload.envs.observation import ObservationLayout
from aif_offload.sim.outcome import Outcome
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.simulator import EpisodeTasks

# The families the report knows; an agent may declare another (it is then shown under that name).
ACTIVE_INFERENCE = "active inference"
DEEP_RL = "deep RL"
RULE = "rule"
ORACLE = "oracle"
OTHER = "other"
FAMILIES = (ACTIVE_INFERENCE, DEEP_RL, RULE, ORACLE, OTHER)


@dataclass(frozen=True)
class EnvContext:
    """What an agent knows about its environment when it is built."""

    scenario: Scenario
    action_nvec: np.ndarray  # (4,) servers, compute, bandwidth, memory levels
    layout: ObservationLayout
    batch_size: int


@dataclass(frozen=True)
class Transition:
    """One batched environment step, as a learner sees it."""

    observation: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_observation: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


class Agent(ABC):
    """Base class: subclasses declare who they are and implement ``act``.

    An agent's identity is its class attributes, and nothing else keeps it: ``name`` (what
    ``--agents`` and ``results.nc`` call it), ``summary`` (one line for ``aif-offload agents``),
    ``family`` (one of ``FAMILIES`` or a new one; the report groups and judges agents by it),
    ``colour`` (any Matplotlib colour, the same in every figure; None: a stable pick from the
    name) and ``paper_method`` (the paper's name for the method it stands for, if any).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    family: ClassVar[str] = OTHER
    colour: ClassVar[str | None] = None
    paper_method: ClassVar[str | None] = None
    needs_truth: ClassVar[bool] = False
    learns: ClassVar[bool] = False
    # Agents whose library drives its own environment loop (SB3) implement ``train`` instead of
    # learning through ``observe``: the runner hands them the training phases and the budget.
    trains_itself: ClassVar[bool] = False
    # Hyperparameters a variant name may change: short key -> class attribute (``ppo@lr=1e-4``).
    hyperparameters: ClassVar[dict[str, str]] = {}
    # Per-device agents: the runner calls ``set_terminals`` with the issuing terminals before ``act``.
    needs_terminal: ClassVar[bool] = False
    # ``hindsight`` only: the runner calls ``see_episode`` with the whole episode before its first step.
    needs_episode_truth: ClassVar[bool] = False
    # True when row i of a batch depends on seeds[i] alone (its own streams, its own learned
    # state), so the executors may run several seeds of a sweep in one process, one batch, and
    # get each seed's numbers as if it ran alone (tests/experiment/test_seed_batching.py checks
    # every agent that says so). Read from the class itself, never inherited: a subclass that adds
    # state must not inherit its parent's claim.
    batches_seeds: ClassVar[bool] = False

    def __init__(self, context: EnvContext, *, seeds: Sequence[int]) -> None:
        if len(seeds) != context.batch_size:
            raise ValueError(
                f"seeds: need one per environment ({context.batch_size}), got {len(seeds)}"
            )
        self.context = context
        self.seeds = [int(s) for s in seeds]
        # One generator per row, so row i's choices depend on its seed only, not on the batch.
        self.rngs = [np.random.default_rng(s) for s in self.seeds]

    def begin_episode(self) -> None:
        """Called before the first step of every episode."""

    @abstractmethod
    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        """Integer actions (B, 4) for observations (B, obs_dim)."""

    def see_episode(self, episodes: Sequence[EpisodeTasks]) -> None:
        """For ``needs_episode_truth`` agents: every row's whole coming episode, known in advance
        (``CloudEdgeLLMVectorEnv.episode_tasks``), given after ``begin_episode`` and before the
        first ``act``. No other agent is ever shown it."""
        raise NotImplementedError(f"{self.name}: does not use the episode in advance")

    def set_terminals(self, terminals: np.ndarray) -> None:
        """For ``needs_terminal`` agents: the terminal index (B,) issuing each row's current task,
        given before every ``act`` (``CloudEdgeLLMVectorEnv.current_terminals``)."""
        self.terminals = np.asarray(terminals, dtype=np.int64)

    def observe(self, transition: Transition) -> None:
        """Learn from a step; rules ignore it."""

    def train(
        self,
        phases: Sequence[tuple[int, Scenario, int]],
        episodes: int,
        on_episode: Callable[[], None] | None = None,
    ) -> list[dict[str, np.ndarray]]:
        """For ``trains_itself`` agents: learn for ``episodes`` episodes in the given phases
        (first episode, scenario, workload seed offset) and return per-episode metrics, name ->
        (B,), as the runner's episode accumulator makes them."""
        raise NotImplementedError(f"{self.name}: does not train itself")

    def freeze(self) -> None:
        """Stop learning parameters and act for evaluation (deterministic policies for RL agents).

        ``observe`` keeps being called after it: a frozen active-inference agent still updates its
        beliefs from what it perceives; it only stops learning its model.
        """

    def end_episode(self) -> dict[str, np.ndarray]:
        """Per-row statistics of the episode just finished (e.g. mean surprise), name -> (B,).

        The runner stores them next to the environment's metrics in ``results.nc``.
        """
        return {}

    def belief_data(self) -> Any | None:
        """Recorded beliefs (an ArviZ InferenceData or xarray Dataset with ``to_netcdf``), if any."""
        return None
