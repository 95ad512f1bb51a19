"""What the single and the vector environment share: spaces, observation, masks, info, reward."""

from __future__ import annotations

from typing import Literal

import numpy as np
from gymnasium import spaces

from aif_offload.envs.observation import ObservationLayout, encode
from aif_offload.scenarios import load_scenario
from aif_offload.sim.llm_latency import kv_cache_bytes
from aif_offload.sim.outcome import FAILURE_REASONS, Outcome, fits
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.simulator import BatchedSimulator

RewardKind = Literal["eq14", "completion"]
REWARD_KINDS = ("eq14", "completion")


def resolve_scenario(
    scenario: Scenario | str, t_max_s: float | None, load_percent: float | None
) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario.with_overrides(t_max_s=t_max_s, load_percent=load_percent)
    return load_scenario(scenario, t_max_s=t_max_s, load_percent=load_percent)


class EnvCore:
    """A batched simulator seen through the Gymnasium conventions of this package."""

    def __init__(
        self,
        scenario: Scenario | str,
        batch_size: int,
        *,
        t_max_s: float | None = None,
        load_percent: float | None = None,
        flatten_actions: bool = False,
        reward: RewardKind = "eq14",
    ) -> None:
        if reward not in REWARD_KINDS:
            raise ValueError(f"reward: unknown kind '{reward}', allowed: {', '.join(REWARD_KINDS)}")
        self.scenario = resolve_scenario(scenario, t_max_s, load_percent)
        self.sim = BatchedSimulator(self.scenario, batch_size)
        self.layout = ObservationLayout.for_scenario(self.scenario)
        self.flatten_actions = flatten_actions
        self.reward_kind = reward
        low, high = self.layout.bounds(self.scenario)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        nvec = self.sim.action_nvec
        self.action_space: spaces.Space = (
            spaces.Discrete(int(np.prod(nvec))) if flatten_actions else spaces.MultiDiscrete(nvec)
        )
        self._state = None

    # Actions -----------------------------------------------------------------------------
    def to_multi(self, actions) -> np.ndarray:
        """Actions as (B, 4) integers, whichever action space the env exposes."""
        nvec = self.sim.action_nvec
        if self.flatten_actions:
            flat = np.asarray(actions, dtype=np.int64).reshape(-1)
            if np.any(flat < 0) or np.any(flat >= np.prod(nvec)):
                raise ValueError(
                    f"action: must be in [0, {int(np.prod(nvec))}), got {flat.tolist()}"
                )
            return np.stack(np.unravel_index(flat, nvec), axis=1)
        actions = np.asarray(actions)
        if actions.size != self.sim.batch_size * nvec.size or not np.issubdtype(
            actions.dtype, np.integer
        ):
            raise ValueError(
                f"action: expected {self.sim.batch_size} x {nvec.size} integers "
                f"(server, compute, bandwidth, memory levels < {nvec.tolist()}), got {actions!r}"
            )
        return actions.astype(np.int64).reshape(-1, nvec.size)

    def step(self, actions) -> tuple[Outcome, dict[str, np.ndarray]]:
        """Dispatch with the state the last observation was made from.

        Returns the outcome and the truth when the task was dispatched: ``true_load`` (B, 3, S)
        and the hidden world's ``true_*`` arrays (:meth:`BatchedSimulator.truth`).
        """
        state = self._state
        truth = {"true_load": 1.0 - state.remaining / self.sim.servers.capacity[None]}
        truth.update(self.sim.truth())
        return self.sim.step(self.to_multi(actions), state), truth

    # Observation, masks, info ---------------------------------------------------------------
    def observe(self) -> np.ndarray:
        self._state = self.sim.task_state()
        view = self.sim.agent_view(self._state)
        self._view = view
        encoded = encode(view, clock=self.layout.clock)
        return np.clip(encoded, self.observation_space.low, self.observation_space.high)

    def feasible(self) -> np.ndarray:
        """(B, S, C, W, M) allocations that fit what the agent is told: the reported load and the
        KV cache of the prompt and the *predicted* output length."""
        view, servers = self._view, self.sim.servers
        remaining = view.remaining_fraction * servers.capacity[None]
        told_gb = kv_cache_bytes(self.sim.model, view.prompt_tokens + view.output_tokens) / 1e9
        return fits(self.scenario, servers, remaining, told_gb)

    def action_masks(self) -> np.ndarray:
        """Masks in the layout MaskablePPO expects: flat joint mask, or per-dimension masks joined."""
        joint = self.feasible()
        b = joint.shape[0]
        nothing = ~joint.reshape(b, -1).any(axis=1)
        joint[nothing] = True  # no action fits: leave every action open rather than none
        if self.flatten_actions:
            return joint.reshape(b, -1)
        per_dim = [joint.any(axis=tuple(a for a in range(1, 5) if a != d)) for d in range(1, 5)]
        return np.concatenate(per_dim, axis=1)

    def oracle_outcomes(self) -> Outcome:
        """True outcome of every action for the current task (B, S, C, W, M): the oracle's view."""
        return self.sim.evaluate_all(self._state)

    def reward(self, result: Outcome) -> np.ndarray:
        if self.reward_kind == "completion":
            return result.completed.astype(np.float64)
        return np.asarray(result.reward, dtype=np.float64)

    @staticmethod
    def info(result: Outcome, truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per-environment facts of the dispatched task (arrays leading with B).

        Keys starting with ``true_`` are the hidden state when the task was dispatched, there for
        belief diagnostics: agents must not act on them. ``true_load`` (B, 3, S) is the used
        fraction of compute, bandwidth and memory of every server (other tenants included);
        ``true_tenant_gpus`` and ``true_tenant_regime`` (B, S) the other tenants' GPUs and regime
        (-1: none); ``true_speed_factor`` (B, S) each server's hidden speed (1 = nominal);
        ``true_output_tokens`` (B,) the task's true output length.
        """
        return {**truth, **outcome_info(result)}


def outcome_info(result) -> dict:
    """The dispatched task's fate as ``info`` entries; ``result`` is an Outcome of either core
    (NumPy or JAX), so both environments publish the same keys."""
    return {
        "latency_s": result.latency_s,
        "transmission_s": result.transmission_s,
        "propagation_s": result.propagation_s,
        "queueing_s": result.queueing_s,
        "compute_s": result.compute_s,
        "completed": result.completed,
        "failure": result.failure,
        "accuracy": result.accuracy,
        "guidance": result.guidance,
        "reward_eq14": result.reward,
    }


def failure_name(code: int) -> str:
    return FAILURE_REASONS[int(code)]
