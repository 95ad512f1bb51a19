"""The protocol between the continuous active-inference engine (``aif-pyro``) and its world model.

The engine (:class:`aif_offload.agents.aif_pyro.AifPyroAgent`) keeps what does not depend on the
model: the ledger of its own admitted tasks and their releases, the mirror of the processing
slots, the clock, the CEM planner and the expected free energy. A world model brings the rest:
perception (a filter of each server's used compute fraction), the forecast of a task's compute
time under each of its posterior samples (whose disagreement is the planner's epistemic term),
and learning once per episode. ``aif-pyro`` runs the shipped one
(``models/latent_load_world.py``: a Kalman filter and SVI refits of the Pyro latent load model);
``aif-pyro@model=path/to/my_world.py:build`` runs a user's (``docs/models.md``, "Your own model").

Shapes: B rows (one per seed), S servers, C compute levels, M posterior samples (the world model
chooses M), T steps of an episode.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

EXPERIENCE = ("control", "server", "log_nominal", "log_compute", "compute_mask", "report")
"""The keys of the episode ``learn`` gets, each (B, T, ...): ``control`` (B, T, S) the known change
of each server's used fraction from one dispatch to the next (the engine's own allocations minus
its ledger's releases); ``server`` (B, T) the server each task went to; ``log_nominal`` (B, T) the
log nominal compute time of its allocation (eq. 8); ``log_compute`` (B, T) the log compute time
observed, where ``compute_mask`` (B, T) is True; ``report`` (B, T, S) the reported used fraction
(1 - remaining compute, delayed and noisy in partial observation)."""


@runtime_checkable
class WorldModel(Protocol):
    """What the continuous engine asks of a world model (build it with ``build(agent)``)."""

    @property
    def load_mean(self) -> np.ndarray:
        """(B, S) belief mean of each server's used compute fraction now."""

    @property
    def load_sd(self) -> np.ndarray:
        """(B, S) belief sd of it."""

    @property
    def process_noise(self) -> np.ndarray:
        """(B,) sd the load drifts by per step beyond the known control (the planner grows the
        belief's variance by it over the horizon)."""

    def begin_episode(self) -> None:
        """A new episode: every server idle again."""

    def perceive(self, report: np.ndarray) -> np.ndarray:
        """Filter: condition the belief on the (B, S) reported used fractions; returns the (B, S)
        standardised innovation (prediction error) of the reports."""

    def advance(self, control: np.ndarray) -> None:
        """Forecast the belief one dispatch ahead, given the (B, S) known change of load."""

    def predict(self, log_nominal_compute: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Compute time under each posterior sample: (B, S, C) log nominal times -> mean and sd
        (B, M, S, C) of the log compute time."""

    def learn(self, episode: dict[str, np.ndarray], episode_index: int) -> dict[str, np.ndarray]:
        """Refit on one training episode (keys ``EXPERIENCE``); returns per-row statistics
        (name -> (B,)) stored with the results. Not called in frozen (evaluation) episodes."""

    def posterior(self) -> dict[str, np.ndarray]:
        """The posterior samples behind ``predict``: name -> (B, M, ...)."""
