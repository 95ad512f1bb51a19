"""GP-NFSP (Hou, Chen, Geng, Li, Lu, FGCS 141:205-217, 2023): the paper's "existing scheme".

Every terminal is an independent learner that sees only its local information: its distances to the
servers, its current task (tokens, request and reply size, deadline) and its own past outcomes, never
the servers' load reports. Each follows Neural Fictitious Self-Play (Heinrich and Silver, 2016): at
the start of every episode it plays its best response with the anticipatory probability ``eta`` and
its average policy otherwise (as NFSP's Algorithm 1 and OpenSpiel's ``nfsp.py`` do). The best
response is PPO whose network runs a GRU over the terminal's successive tasks; the average policy is
a small MLP fitted by cross-entropy to a reservoir of the terminal's own best-response actions.

Written here by hand in torch: neither Stable-Baselines3, sb3-contrib nor Tianshou has NFSP, and
OpenSpiel's NFSP pairs a DQN best response with OpenSpiel's game API. All terminals of all rows are
held as stacked parameters (leading dim = row x terminal) and run through batched matrix products;
the loss is a sum of per-terminal losses, gradients are clipped per terminal and the Adam moments
and step counts are per terminal, so every terminal learns exactly as if it were alone. The gaps
our reading of the paper had to fill are listed in ``docs/baselines.md``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from aif_offload.agents import declared
from aif_offload.agents.base import Agent, EnvContext, Transition
from aif_offload.sim.mobility import terminal_kinds
from aif_offload.sim.outcome import Outcome

Params = dict[str, torch.Tensor]

# Local observation: the observation fields a terminal knows without any server telling it.
LOCAL_FIELDS = (
    "distance_km",
    "prompt_ktokens",
    "output_ktokens",
    "request_kb",
    "reply_kb",
    "t_max_s",
)


@dataclass(frozen=True)
class GpNfspConfig:
    """Hyperparameters of GP-NFSP; sources in docs/baselines.md."""

    eta: float = 0.1
    """Anticipatory parameter: probability that a terminal plays its best response for an episode."""
    hidden: int = 32
    """Width of the best response's encoder and GRU (32: per-terminal weights make the GRU's
    training cost grow with its width squared; 64 nearly doubles the episode time)."""
    avg_hidden: int = 64
    """Width of the average policy's two hidden layers."""
    ppo_lr: float = 2.7e-3
    """Adam learning rate of the best response: tuned, 9x SB3's PPO default 3e-4 (docs/baselines.md)."""
    ppo_epochs: int = 10
    """PPO epochs over each episode's data (SB3 default)."""
    clip_range: float = 0.2
    """PPO ratio clipping (SB3 default)."""
    gamma: float = 0.9
    """Discount between a terminal's successive tasks."""
    gae_lambda: float = 0.95
    """GAE lambda (SB3 default)."""
    vf_coef: float = 0.5
    """Weight of the value loss (SB3 default)."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus (SB3 default)."""
    max_grad_norm: float = 0.5
    """Per-terminal gradient norm clip of the best response (SB3 default)."""
    is_clip: float = 1.0
    """Truncation of the importance weight pi_BR / pi_avg on average-policy episodes."""
    sl_lr: float = 1e-3
    """Adam learning rate of the average policy."""
    sl_batch: int = 128
    """Reservoir samples per average-policy update (OpenSpiel NFSP default)."""
    sl_updates: int = 2
    """Average-policy updates per episode."""
    reservoir: int = 1000
    """Reservoir capacity per terminal (a terminal adds ~0.3 samples per episode at eta 0.1, so it
    fills after ~3000 episodes)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.eta <= 1.0:
            raise ValueError(f"eta: must be in [0, 1], got {self.eta}")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: must be in [0, 1], got {getattr(self, name)}")
        for name in ("hidden", "avg_hidden", "ppo_epochs", "sl_batch", "reservoir"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("ppo_lr", "sl_lr", "clip_range", "max_grad_norm", "is_clip"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.sl_updates < 0:
            raise ValueError(f"sl_updates: must be >= 0, got {self.sl_updates}")


# --------------------------------------------------------------------- stacked networks
def _uniform(gen: torch.Generator, shape: tuple[int, ...], bound: float) -> torch.Tensor:
    return (torch.rand(shape, generator=gen) * 2.0 - 1.0) * bound


def _linear_init(gen, n, fan_in, fan_out, *, gain: float = 1.0) -> tuple[torch.Tensor, ...]:
    """PyTorch's default Linear init for n stacked layers, weights scaled by ``gain``."""
    bound = 1.0 / math.sqrt(fan_in)
    return gain * _uniform(gen, (n, fan_in, fan_out), bound), _uniform(gen, (n, fan_out), bound)


def init_best_response(gen: torch.Generator, n: int, d: int, h: int, heads: int) -> Params:
    """Encoder, GRU cell (PyTorch's gate order r, z, n) and policy / value heads, n stacked."""
    p: Params = {}
    p["enc_w"], p["enc_b"] = _linear_init(gen, n, d, h)
    p["ih_w"], p["ih_b"] = _linear_init(gen, n, h, 3 * h)
    p["hh_w"], p["hh_b"] = _linear_init(gen, n, h, 3 * h)
    p["pi_w"], p["pi_b"] = _linear_init(gen, n, h, heads, gain=0.01)  # near-uniform start
    p["v_w"], p["v_b"] = _linear_init(gen, n, h, 1)
    return p


def init_average(gen: torch.Generator, n: int, d: int, h: int, heads: int) -> Params:
    p: Params = {}
    p["w1"], p["b1"] = _linear_init(gen, n, d, h)
    p["w2"], p["b2"] = _linear_init(gen, n, h, h)
    p["w3"], p["b3"] = _linear_init(gen, n, h, heads, gain=0.01)
    return p


# The forward passes below take NumPy arrays (acting: a few microseconds per operation) or torch
# tensors (training, with autograd) alike.
def _tanh(x):
    return torch.tanh(x) if isinstance(x, torch.Tensor) else np.tanh(x)


def _sigmoid(x):
    return 0.5 * (1.0 + _tanh(0.5 * x))


def _affine(x, w, b):
    """x (K, in) or (K, L, in) through K stacked layers w (K, in, out), b (K, out)."""
    if x.ndim == 2:
        return (x[:, None, :] @ w)[:, 0] + b
    return x @ w + b[:, None]


def gru_cell(gi, h, p: Params):
    """One step of K stacked GRU cells (PyTorch's equations, gates r, z, n) given the input
    projection gi (K, 3H) and the hidden state h (K, H)."""
    k = h.shape[-1]
    gh = _affine(h, p["hh_w"], p["hh_b"])
    r = _sigmoid(gi[:, :k] + gh[:, :k])
    z = _sigmoid(gi[:, k : 2 * k] + gh[:, k : 2 * k])
    n = _tanh(gi[:, 2 * k :] + r * gh[:, 2 * k :])
    return (1.0 - z) * n + z * h


def _input_projection(p: Params, x):
    return _affine(_tanh(_affine(x, p["enc_w"], p["enc_b"])), p["ih_w"], p["ih_b"])


def best_response_step(p: Params, x, h):
    """Logits (K, heads), value (K,) and next hidden (K, H) for one task of K terminals."""
    h = gru_cell(_input_projection(p, x), h, p)
    return _affine(h, p["pi_w"], p["pi_b"]), _affine(h, p["v_w"], p["v_b"])[:, 0], h


def best_response_unroll(p: Params, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (K, L, heads) and values (K, L) over sequences x (K, L, D) from a zero hidden state.

    Sequences start at step 0 and are zero-padded at their end, so padding never reaches a real
    step. (Packing by length to skip the padding was tried: slicing the stacked weights per step
    made the backward pass slower than the padding it saved.)
    """
    gi = _input_projection(p, x)  # every step's input projection at once
    h = torch.zeros(x.shape[0], p["hh_w"].shape[1])
    states = []
    for t in range(x.shape[1]):
        h = gru_cell(gi[:, t], h, p)
        states.append(h)
    hs = torch.stack(states, dim=1)
    return _affine(hs, p["pi_w"], p["pi_b"]), _affine(hs, p["v_w"], p["v_b"])[..., 0]


def average_logits(p: Params, x):
    y = _affine(x, p["w1"], p["b1"]).clip(min=0)
    y = _affine(y, p["w2"], p["b2"]).clip(min=0)
    return _affine(y, p["w3"], p["b3"])


def head_log_probs(logits, nvec: Sequence[int]) -> list:
    """Factorised policy: one log-softmax per action dimension (server, compute, bandwidth, memory)."""
    bounds = np.cumsum([0, *nvec])
    parts = [logits[..., lo:hi] for lo, hi in itertools.pairwise(bounds)]
    if isinstance(logits, torch.Tensor):
        return [torch.log_softmax(part, dim=-1) for part in parts]
    out = []
    for part in parts:
        shifted = part - part.max(axis=-1, keepdims=True)
        out.append(shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True)))
    return out


def action_log_prob(log_probs: list[torch.Tensor], action: torch.Tensor) -> torch.Tensor:
    """log pi(a) = sum over dimensions; action (..., 4) integers."""
    return sum(lp.gather(-1, action[..., d : d + 1])[..., 0] for d, lp in enumerate(log_probs))


class StackedAdam:
    """Adam over stacked parameters whose leading dim indexes independent learners.

    Moments and step counts are per learner and only learners flagged ``active`` move, so each
    learner is updated exactly as a lone ``torch.optim.Adam`` would update it.
    """

    def __init__(self, params: Params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = {k: torch.zeros_like(v) for k, v in params.items()}
        self.v = {k: torch.zeros_like(v) for k, v in params.items()}
        self.t = torch.zeros(next(iter(params.values())).shape[0])

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    def clip_grad_norm(self, max_norm: float) -> None:
        """Scale each learner's gradient to norm at most ``max_norm``."""
        grads = [p.grad for p in self.params.values() if p.grad is not None]
        sq = sum(g.pow(2).flatten(1).sum(1) for g in grads)
        scale = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))

    @torch.no_grad()
    def step(self, active: torch.Tensor) -> None:
        b1, b2 = self.betas
        on = active.float()
        self.t += on
        t = self.t.clamp(min=1)
        # Per learner: lr / (1 - b1^t) where active, 0 elsewhere; sqrt(1 - b2^t) for v's bias.
        step_size = self.lr * on / (1.0 - b1**t)
        root_c2 = (1.0 - b2**t).sqrt()
        for k, p in self.params.items():
            if p.grad is None:
                continue
            shape = (-1, *([1] * (p.dim() - 1)))
            m, v, g = self.m[k], self.v[k], p.grad
            m.lerp_(g, (1.0 - b1) * on.view(shape))  # unchanged where inactive
            v.lerp_(g * g, (1.0 - b2) * on.view(shape))
            denom = v.sqrt().div_(root_c2.view(shape)).add_(self.eps)
            p.sub_(m * step_size.view(shape) / denom)


# ------------------------------------------------------------------------------ the agent
class GpNfspAgent(declared.GpNfsp, Agent):
    """Independent NFSP learners, one per terminal and environment row (see module docstring)."""

    learns = True
    needs_terminal = True
    # Variants by name (``gp-nfsp@lr=1e-3+eta=0.2``) change these; an explicit config wins.
    hyperparameters: ClassVar[dict[str, str]] = {"lr": "learning_rate", "eta": "eta"}
    learning_rate: ClassVar[float] = GpNfspConfig.ppo_lr
    eta: ClassVar[float] = GpNfspConfig.eta

    def __init__(
        self, context: EnvContext, *, seeds: Sequence[int], config: GpNfspConfig | None = None
    ) -> None:
        super().__init__(context, seeds=seeds)
        # Small networks: one thread is several times faster on this 2-core machine (as drl.py).
        torch.set_num_threads(1)
        self.config = config or GpNfspConfig(eta=self.eta, ppo_lr=self.learning_rate)
        layout, scenario = context.layout, context.scenario
        self.nvec = [int(n) for n in context.action_nvec]
        self.num_terminals = int(terminal_kinds(scenario.terminals).size)
        b, n = context.batch_size, self.num_terminals
        self.num_agents = b * n
        # Local columns of the observation and their scales; load reports are never read.
        self.local_columns = np.concatenate(
            [np.arange(layout.size)[layout.slice(f)] for f in LOCAL_FIELDS]
        )
        _, high = layout.bounds(scenario)
        scale = high[self.local_columns].astype(np.float64)
        self._tmax_col = int(np.flatnonzero(self.local_columns == layout.slice("t_max_s").start)[0])
        self._scale = scale
        heads = sum(self.nvec)
        # Local fields + the terminal's last outcome: latency / t_max (1 if failed), completed,
        # reward, "has a past task" flag, then the last action one-hot per dimension.
        self.feature_dim = self.local_columns.size + 3 + heads + 1
        cfg, d = self.config, self.feature_dim
        br_rows, avg_rows = [], []
        for seed in self.seeds:  # each row's terminals initialised from the row's own seed
            gen = torch.Generator().manual_seed(seed)
            br_rows.append(init_best_response(gen, n, d, cfg.hidden, heads))
            avg_rows.append(init_average(gen, n, d, cfg.avg_hidden, heads))
        self.br = {k: torch.cat([r[k] for r in br_rows]).requires_grad_() for k in br_rows[0]}
        self.avg = {k: torch.cat([r[k] for r in avg_rows]).requires_grad_() for k in avg_rows[0]}
        # NumPy views sharing the parameters' memory (updates are in place) for fast acting.
        self.br_np = {k: v.detach().numpy() for k, v in self.br.items()}
        self.avg_np = {k: v.detach().numpy() for k, v in self.avg.items()}
        self.br_opt = StackedAdam(self.br, cfg.ppo_lr)
        self.avg_opt = StackedAdam(self.avg, cfg.sl_lr)
        a = self.num_agents
        self.res_x = torch.zeros(a, cfg.reservoir, d)
        self.res_a = torch.zeros(a, cfg.reservoir, len(self.nvec), dtype=torch.int16)
        self.res_filled = np.zeros(a, dtype=np.int64)
        self.res_seen = np.zeros(a, dtype=np.int64)
        self.frozen = False
        self.terminals: np.ndarray | None = None
        self.begin_episode()

    # ---------------------------------------------------------------------- episode hooks
    def begin_episode(self) -> None:
        b, n, cfg = self.context.batch_size, self.num_terminals, self.config
        self.hidden = np.zeros((self.num_agents, cfg.hidden), dtype=np.float32)
        self.last = np.zeros((b * n, self.feature_dim - self.local_columns.size))
        # NFSP Algorithm 1: each terminal picks its policy for the whole episode.
        if self.frozen:
            self.best_response = np.zeros((b, n), dtype=bool)
        else:
            self.best_response = np.stack([rng.random(n) < cfg.eta for rng in self.rngs])
        self.steps: list[dict[str, np.ndarray]] = []
        self._pending: dict[str, np.ndarray] | None = None

    def freeze(self) -> None:
        """Evaluate with the average policy (NFSP's Nash approximation), sampled: it is a mixed
        strategy, and its mode is a different policy (see docs/architecture.md); stop learning."""
        self.frozen = True
        self.best_response[:] = False

    def end_episode(self) -> dict[str, np.ndarray]:
        b = self.context.batch_size
        nan = np.full(b, np.nan)
        stats = {"ppo_loss": nan, "sl_loss": nan.copy(), "best_response_fraction": np.zeros(b)}
        if self.steps and not self.frozen:
            chose_br = np.stack([s["best_response"] for s in self.steps])
            stats["best_response_fraction"] = chose_br.mean(axis=0)
            stats["ppo_loss"] = self._update_best_response()
            stats["sl_loss"] = self._update_average()
        self.steps = []
        return stats

    # ------------------------------------------------------------------------- acting
    def features(self, observation: np.ndarray, agents: np.ndarray) -> np.ndarray:
        """(B, feature_dim): the task's local fields, scaled, and the terminal's own past outcome."""
        local = observation[:, self.local_columns].astype(np.float64) / self._scale
        t_max = observation[:, self.local_columns[self._tmax_col]].astype(np.float64)
        local[:, self._tmax_col] = np.log1p(t_max) / np.log1p(self._scale[self._tmax_col])
        return np.concatenate([local, self.last[agents]], axis=1).astype(np.float32)

    def _take_terminals(self, batch: int) -> np.ndarray:
        terminals, self.terminals = self.terminals, None
        if terminals is None or terminals.shape != (batch,):
            raise RuntimeError(
                f"{self.name}: call set_terminals(terminals) with ({batch},) indices before every "
                "act (the runner does this for needs_terminal agents)"
            )
        if np.any((terminals < 0) | (terminals >= self.num_terminals)):
            raise ValueError(f"terminals: must be in [0, {self.num_terminals}), got {terminals}")
        return terminals

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        b = observation.shape[0]
        terminals = self._take_terminals(b)
        agents = np.arange(b) * self.num_terminals + terminals
        x = self.features(observation, agents)
        avg_lp = head_log_probs(average_logits(self._gather(self.avg_np, agents), x), self.nvec)
        u = np.stack([rng.random(len(self.nvec)) for rng in self.rngs])
        if self.frozen:
            action = _sample(avg_lp, u, self.nvec)
            self._pending = {"agents": agents, "features": x, "action": action}
            return action
        logits, value, self.hidden[agents] = best_response_step(
            self._gather(self.br_np, agents), x, self.hidden[agents]
        )
        br_lp = head_log_probs(logits, self.nvec)
        use_br = self.best_response[np.arange(b), terminals]
        acting_lp = [
            np.where(use_br[:, None], br, avg) for br, avg in zip(br_lp, avg_lp, strict=True)
        ]
        action = _sample(acting_lp, u, self.nvec)
        rows = np.arange(b)
        logp_br = sum(lp[rows, action[:, d]] for d, lp in enumerate(br_lp))
        logp_avg = sum(lp[rows, action[:, d]] for d, lp in enumerate(avg_lp))
        self._pending = {
            "agents": agents,
            "features": x,
            "action": action,
            "best_response": use_br,
            "logp_br": logp_br.astype(np.float32),
            "logp_behaviour": np.where(use_br, logp_br, logp_avg).astype(np.float32),
            "value": value.astype(np.float32),
        }
        return action

    @staticmethod
    def _gather(params: dict[str, np.ndarray], agents: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[agents] for k, v in params.items()}

    def observe(self, transition: Transition) -> None:
        """Remember the terminal's outcome (its next local features) and, if learning, the step."""
        step, self._pending = self._pending, None
        if step is None:
            return
        info, agents = transition.info, step["agents"]
        completed = np.asarray(info["completed"], dtype=bool)
        t_max = self.context.layout.get(transition.observation, "t_max_s").astype(np.float64)
        ratio = np.where(completed, np.asarray(info["latency_s"]) / t_max, 1.0)
        onehot = np.concatenate(
            [np.eye(n)[step["action"][:, d]] for d, n in enumerate(self.nvec)], axis=1
        )
        reward = np.asarray(transition.reward, dtype=np.float64)
        past = [np.clip(ratio, 0.0, 1.0), completed, reward, np.ones_like(reward)]
        self.last[agents] = np.concatenate([np.stack(past, axis=1), onehot], axis=1)
        if self.frozen:
            return
        step["reward"] = reward
        self.steps.append(step)
        for row in np.flatnonzero(step["best_response"]):
            self._reservoir_add(row, int(agents[row]), step["features"][row], step["action"][row])

    def _reservoir_add(self, row: int, agent: int, x: np.ndarray, action: np.ndarray) -> None:
        """Reservoir sampling (Vitter's algorithm R) into the terminal's own buffer."""
        capacity, seen = self.config.reservoir, int(self.res_seen[agent])
        slot = seen if seen < capacity else int(self.rngs[row].integers(0, seen + 1))
        if slot < capacity:
            self.res_x[agent, slot] = torch.from_numpy(x)
            self.res_a[agent, slot] = torch.from_numpy(action)
        self.res_filled[agent] = min(seen + 1, capacity)
        self.res_seen[agent] = seen + 1

    # ------------------------------------------------------------------------- learning
    def _sequences(self) -> dict[str, torch.Tensor]:
        """The episode's steps regrouped per terminal: padded (A, L, ...) in issue order."""
        agents = np.stack([s["agents"] for s in self.steps])  # (T, B)
        a, t_len = self.num_agents, agents.shape[0]
        onehot = np.zeros((t_len, agents.shape[1], a), dtype=np.int64)
        onehot[np.arange(t_len)[:, None], np.arange(agents.shape[1]), agents] = 1
        pos = np.take_along_axis(np.cumsum(onehot, axis=0), agents[..., None], axis=2)[..., 0] - 1
        length = int(pos.max()) + 1
        out: dict[str, torch.Tensor] = {}
        for key in ("features", "action", "reward", "logp_br", "logp_behaviour", "value"):
            v = np.stack([s[key] for s in self.steps])
            padded = np.zeros((a, length, *v.shape[2:]), dtype=v.dtype)
            padded[agents, pos] = v
            out[key] = torch.from_numpy(padded)
        mask = np.zeros((a, length), dtype=bool)
        mask[agents, pos] = True
        out["mask"] = torch.from_numpy(mask)
        return out

    def _advantages(self, seq: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """GAE per terminal; a terminal's last task of the episode is terminal (no bootstrap)."""
        cfg = self.config
        value, reward = seq["value"].double(), seq["reward"].double()
        mask = seq["mask"].double()
        # Value and presence of each terminal's next task (none after its last one).
        next_value = torch.cat([value[:, 1:], torch.zeros_like(value[:, :1])], dim=1)
        has_next = torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], dim=1)
        delta = reward + cfg.gamma * has_next * next_value - value
        adv = torch.zeros_like(value)
        running = torch.zeros(value.shape[0], dtype=torch.float64)
        decay = cfg.gamma * cfg.gae_lambda * has_next
        for t in reversed(range(value.shape[1])):
            running = (delta[:, t] + decay[:, t] * running) * mask[:, t]
            adv[:, t] = running
        return adv.float(), (adv + value).float()

    def _per_row(self, per_agent: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Mean over each row's active terminals (NaN for a row with none)."""
        values = np.where(active, per_agent, np.nan).reshape(-1, self.num_terminals)
        with np.errstate(invalid="ignore"):
            counts = np.isfinite(values).sum(axis=1)
            return np.where(counts > 0, np.nansum(values, axis=1) / np.maximum(counts, 1), np.nan)

    def _update_best_response(self) -> np.ndarray:
        """PPO epochs over every terminal's tasks of the episode (see docs/baselines.md)."""
        cfg = self.config
        seq = self._sequences()
        adv, returns = self._advantages(seq)
        mask = seq["mask"].float()
        count = mask.sum(1)
        active = count > 0
        # Off-policy correction for average-policy episodes (1 on best-response episodes).
        weight = (seq["logp_br"] - seq["logp_behaviour"]).exp().clamp(max=cfg.is_clip) * mask
        losses = []
        for _ in range(cfg.ppo_epochs):
            logits, value = best_response_unroll(self.br, seq["features"])
            log_probs = head_log_probs(logits, self.nvec)
            ratio = (action_log_prob(log_probs, seq["action"]) - seq["logp_br"]).exp()
            clipped = ratio.clamp(1 - cfg.clip_range, 1 + cfg.clip_range)
            surrogate = torch.minimum(ratio * adv, clipped * adv)
            entropy = -sum((lp.exp() * lp).sum(-1) for lp in log_probs)
            per_agent = (
                -(weight * surrogate)
                + cfg.vf_coef * (value - returns) ** 2
                - cfg.ent_coef * entropy
            )
            loss = (per_agent * mask).sum(1) / count.clamp(min=1)  # each terminal's mean
            self.br_opt.zero_grad()
            loss.sum().backward()
            self.br_opt.clip_grad_norm(cfg.max_grad_norm)
            self.br_opt.step(active)
            losses.append(loss.detach().numpy())
        return self._per_row(np.mean(losses, axis=0), active.numpy())

    def _update_average(self) -> np.ndarray:
        """Cross-entropy of the average policy on minibatches of each terminal's reservoir."""
        cfg, n = self.config, self.num_terminals
        active = self.res_filled > 0
        if not active.any():
            return np.full(self.context.batch_size, np.nan)
        losses = []
        for _ in range(cfg.sl_updates):
            u = np.stack([rng.random((n, cfg.sl_batch)) for rng in self.rngs]).reshape(
                -1, cfg.sl_batch
            )
            idx = torch.from_numpy((u * np.maximum(self.res_filled, 1)[:, None]).astype(np.int64))
            x = torch.gather(self.res_x, 1, idx[..., None].expand(-1, -1, self.feature_dim))
            target = torch.gather(self.res_a, 1, idx[..., None].expand(-1, -1, len(self.nvec)))
            target = target.long()
            loss = self.average_loss(x, target)
            self.avg_opt.zero_grad()
            (loss * torch.from_numpy(active)).sum().backward()
            self.avg_opt.step(torch.from_numpy(active))
            losses.append(loss.detach().numpy())
        return self._per_row(np.mean(losses, axis=0), active)

    def average_loss(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-terminal cross-entropy (A,) of the average policy on x (A, K, D), actions (A, K, 4)."""
        log_probs = head_log_probs(average_logits(self.avg, x), self.nvec)
        return -action_log_prob(log_probs, target).mean(1)


def _sample(log_probs: list[np.ndarray], u: np.ndarray, nvec: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of every head (B, heads) from uniforms ``u`` drawn by each row's own
    generator, so the same seed gives the same actions whatever shares the batch."""
    action = np.zeros((u.shape[0], len(nvec)), dtype=np.int64)
    for d, n in enumerate(nvec):
        cdf = np.cumsum(np.exp(log_probs[d]), axis=1)
        action[:, d] = np.minimum((u[:, d : d + 1] > cdf).sum(axis=1), n - 1)
    return action
