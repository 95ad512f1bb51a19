"""``aif-ensemble``: the paper-faithful variant, an ensemble of small torch MLPs as the world model.

Same perception (Kalman belief of the load), planner (CEM, Algorithm 1) and guidance (EFE with
eq. 11) as ``aif-pyro``; what differs is the world model. Instead of posterior samples of the
Pyro model's parameters, K small MLPs (two hidden layers) predict, for the current task and every
server and compute level, the **outcome** (a Gaussian over the log compute time) and the **next
state** (a Gaussian over the load the allocation adds to the server: its fraction if admitted,
nothing if refused). Inputs: one-hot server, compute share, log nominal compute time (eq. 8 via
``Forecaster``), the believed load of the server and the allocation's fraction. Each member is a
residual on the nominal prediction (so the untrained ensemble starts near the scenario's nominal
model, with the spread of its random initialisation as the first epistemic signal), trained once
per episode by Adam on a bootstrap resample of the row's experience (Tschantz et al.'s recipe;
sizes here are small: 5 members of 32 units, for the 20 ms decision target). The members'
disagreement is the intrinsic term. The continuous allocation maps to levels as in ``aif-pyro``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from aif_offload.agents import declared
from aif_offload.agents.aif_pyro import AifPyroAgent, AifPyroConfig
from aif_offload.agents.base import EnvContext, Transition
from aif_offload.sim.outcome import COMPLETED, DEADLINE_EXCEEDED


@dataclass(frozen=True)
class AifEnsembleConfig:
    """Settings of ``aif-ensemble`` (``base.num_models`` is replaced by ``members``)."""

    base: AifPyroConfig = field(default_factory=AifPyroConfig)
    members: int = 5
    hidden: int = 32
    train_steps: int = 60
    lr: float = 0.01
    buffer_episodes: int = 10  # experience kept per row for training


class _Ensemble:
    """B x K independent MLPs (F -> H -> H -> 4) evaluated and trained in one batch."""

    def __init__(self, rows: int, members: int, features: int, hidden: int, seeds: Sequence[int]):
        shapes = [(features, hidden), (hidden, hidden), (hidden, 4)]
        weights = [[] for _ in shapes]
        for seed in seeds:
            rng = np.random.default_rng([int(seed), 7919])
            for w, (fan_in, fan_out) in zip(weights, shapes, strict=True):
                w.append(rng.normal(0.0, 1.0 / np.sqrt(fan_in), (members, fan_in, fan_out)))
        weights[-1] = [0.1 * w for w in weights[-1]]  # start near the nominal model
        self.w = [
            torch.tensor(np.stack(w), dtype=torch.float32, requires_grad=True) for w in weights
        ]
        self.b = [
            torch.zeros(rows, members, 1, w.shape[-1], dtype=torch.float32, requires_grad=True)
            for w in self.w
        ]

    def parameters(self) -> list[torch.Tensor]:
        return [*self.w, *self.b]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, N, F) -> (B, K, N, 4): compute mean, compute log-var, step mean, step log-var."""
        h = x[:, None]
        for i, (w, b) in enumerate(zip(self.w, self.b, strict=True)):
            h = h @ w + b
            if i < len(self.w) - 1:
                h = torch.tanh(h)
        return h


class AifEnsembleAgent(declared.AifEnsemble, AifPyroAgent):
    _learn_keys = ("ensemble_loss",)
    # Its networks replace the world model's forecast and learning: no model=... variant.
    # ``@prior=vague``: the compute-time head learns log compute times from scratch (an offset of
    # 0, i.e. 1 s, until trained) instead of a residual on the nominal eq. 8 time; the nominal time
    # stays among its inputs, to be learned from like any other.
    hyperparameters: ClassVar[dict[str, str]] = {"prior": "prior"}

    def __init__(
        self,
        context: EnvContext,
        *,
        seeds: Sequence[int],
        config: AifEnsembleConfig | None = None,
    ) -> None:
        self.ensemble_config = config or AifEnsembleConfig()
        base = self.ensemble_config.base
        base = AifPyroConfig(**{**base.__dict__, "num_models": self.ensemble_config.members})
        super().__init__(context, seeds=seeds, config=base)
        s = self.num_servers
        self.num_features = s + 4
        self.net = _Ensemble(
            context.batch_size,
            self.ensemble_config.members,
            self.num_features,
            self.ensemble_config.hidden,
            self.seeds,
        )
        self.buffer: list[dict[str, np.ndarray]] = []  # one dict (B, T, ...) per episode
        self._step_features: list[np.ndarray] = []
        self._step_targets: list[np.ndarray] = []

    def begin_episode(self) -> None:
        super().begin_episode()
        self._step_features, self._step_targets = [], []

    def _features(self, server, share, log_nominal, load, fraction) -> np.ndarray:
        """(..., F) inputs of the members."""
        one_hot = (np.asarray(server)[..., None] == np.arange(self.num_servers)).astype(float)
        rest = np.stack([share, log_nominal / 3.0, load, fraction * 4.0], axis=-1)
        return np.concatenate([one_hot, rest], axis=-1)

    def _world_models(self, observation: np.ndarray, compute: np.ndarray):
        b = len(observation)
        s, c = compute.shape[1:]
        server = np.broadcast_to(np.arange(s)[None, :, None], (b, s, c))
        level = np.broadcast_to(np.arange(c)[None, None, :], (b, s, c))
        load = np.broadcast_to(self.world.load_mean[:, :, None], (b, s, c))
        fraction = self.level_fraction[server, level]
        x = self._features(server, self.shares[level], np.log(compute), load, fraction)
        with torch.no_grad():
            out = self.net(torch.tensor(x.reshape(b, s * c, -1), dtype=torch.float32))
            out = out.numpy().astype(float)
        out = out.reshape(b, -1, s, c, 4)
        mean = out[..., 0] + (0.0 if self.prior.vague else np.log(compute)[:, None])
        sd = np.exp(0.5 * np.clip(out[..., 1] - 4.0, -12.0, 2.0))
        step = fraction[:, None] * (1.0 + out[..., 2])
        return mean, sd, step

    def observe(self, transition: Transition) -> None:
        pending = self._pending
        super().observe(transition)
        if pending is None:
            return
        info, action = transition.info, np.asarray(transition.action)
        rows = np.arange(len(action))
        server, level = action[:, 0], action[:, 1]
        failure = np.asarray(info["failure"])
        admitted = (failure == COMPLETED) | (failure == DEADLINE_EXCEEDED)
        load = pending["load_mean"][rows, server]
        x = self._features(
            server, self.shares[level], pending["log_nominal"], load, pending["fraction"]
        )
        compute_s = np.asarray(info["compute_s"], float)
        ok = np.isfinite(compute_s) & (compute_s > 0)
        residual_base = 0.0 if self.prior.vague else pending["log_nominal"]
        target = np.stack(
            [
                np.where(ok, np.log(np.where(ok, compute_s, 1.0)) - residual_base, 0.0),
                ok.astype(float),
                admitted.astype(float) - 1.0,  # step = fraction (1 + out): 0 if admitted, -1 if not
            ],
            axis=-1,
        )
        self._step_features.append(x)
        self._step_targets.append(target)

    def _learn(self, ep: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.buffer.append(
            {
                "x": np.stack(self._step_features, axis=1),
                "y": np.stack(self._step_targets, axis=1),
            }
        )
        self.buffer = self.buffer[-self.ensemble_config.buffer_episodes :]
        x = np.concatenate([e["x"] for e in self.buffer], axis=1)  # (B, N, F)
        y = np.concatenate([e["y"] for e in self.buffer], axis=1)  # (B, N, 3)
        n = x.shape[1]
        k = self.ensemble_config.members
        # Bootstrap weights per (row, member), from each row's own generator.
        counts = np.stack(
            [
                np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(k)])
                for rng in (
                    np.random.default_rng([seed, self.episode_index, 31]) for seed in self.seeds
                )
            ]
        ).astype(float)  # (B, K, N)
        xt = torch.tensor(x, dtype=torch.float32)
        yt = torch.tensor(y, dtype=torch.float32)
        wt = torch.tensor(counts / n, dtype=torch.float32)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=self.ensemble_config.lr)
        for _ in range(self.ensemble_config.train_steps):
            optimizer.zero_grad()
            loss_rows = self._nll(xt, yt, wt)
            loss_rows.sum().backward()
            optimizer.step()
        with torch.no_grad():
            final = self._nll(xt, yt, wt).numpy().astype(float)
        return {"ensemble_loss": final}

    def end_episode(self) -> dict[str, np.ndarray]:
        stats = super().end_episode()
        stats.pop("log_compute_abs_error", None)  # that one scores the Pyro model's speeds
        return stats

    def _nll(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Per-row weighted Gaussian NLL of both heads (B,)."""
        out = self.net(x)  # (B, K, N, 4)
        logvar = torch.clamp(out[..., 1] - 4.0, -12.0, 2.0)
        compute = 0.5 * (logvar + (y[:, None, :, 0] - out[..., 0]) ** 2 / logvar.exp())
        compute = compute * y[:, None, :, 1]
        step_logvar = torch.clamp(out[..., 3] - 4.0, -12.0, 2.0)
        step = 0.5 * (step_logvar + (y[:, None, :, 2] - out[..., 2]) ** 2 / step_logvar.exp())
        return ((compute + step) * weight).sum(dim=(1, 2))
