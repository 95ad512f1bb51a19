"""A user's continuous world model, written outside the package: run with
``--agents aif-pyro@model=tests/agents/user_models/tiny_world.py:build``.

No filter: the belief of a server's load is its last report (plus the known control), with a
fixed sd. Speeds: one bias of the log compute time per server, learned per episode as the mean
residual of the observed compute times; two posterior samples, the bias -/+ the residuals' sd.
"""

from __future__ import annotations

import numpy as np


class TinyWorld:
    def __init__(self, batch: int, servers: int) -> None:
        self.load_mean = np.zeros((batch, servers))
        self.load_sd = np.full((batch, servers), 0.05)
        self.process_noise = np.full(batch, 0.01)
        self.bias = np.zeros((batch, servers))
        self.spread = np.full((batch, servers), 0.2)

    def begin_episode(self) -> None:
        self.load_mean[:] = 0.0

    def perceive(self, report):
        innovation = (report - self.load_mean) / self.load_sd
        self.load_mean = np.array(report, dtype=float)
        return innovation

    def advance(self, control) -> None:
        self.load_mean = np.clip(self.load_mean + control, 0.0, 1.0)

    def samples(self):
        return np.stack([self.bias - self.spread, self.bias + self.spread], axis=1)  # (B, 2, S)

    def predict(self, log_nominal_compute):
        mean = log_nominal_compute[:, None] + self.samples()[..., None]  # (B, 2, S, C)
        return mean, np.full(mean.shape, 0.1)

    def learn(self, episode, episode_index):
        residual = np.where(
            episode["compute_mask"], episode["log_compute"] - episode["log_nominal"], np.nan
        )
        for j in range(self.bias.shape[1]):
            on_j = np.where(episode["server"] == j, residual, np.nan)
            seen = np.isfinite(on_j).sum(axis=1) > 1
            self.bias[seen, j] = np.nanmean(on_j[seen], axis=1)
            self.spread[seen, j] = np.maximum(np.nanstd(on_j[seen], axis=1), 0.01)
        return {"tiny_abs_residual": np.nanmean(np.abs(residual), axis=1)}

    def posterior(self):
        return {"log_speed": self.samples()}


def build(agent) -> TinyWorld:
    return TinyWorld(agent.context.batch_size, len(agent.context.scenario.servers))
