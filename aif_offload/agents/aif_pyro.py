"""``aif-pyro``: the continuous active-inference engine, with the Pyro latent load model (issue 4).

The engine (this class) is generic in its world model, which sits behind the protocol
:class:`aif_offload.agents.world_model.WorldModel` and is built by ``model``
(``path.py:callable`` or ``module:callable``, variant key ``model``). ``aif-pyro`` runs the
shipped one, ``models/latent_load_world.py`` (the latent load model of
``models/latent_load_model.py``); ``aif-pyro@model=path/to/my_world.py:build`` a user's.

Perceive: the world model filters each server's used compute fraction from the delayed, noisy
load reports and the agent's own ledger of allocations and releases (shipped: a closed-form
Kalman filter, clipped reports treated as censored). Plan: a CEM planner
(Algorithm 1) scores action sequences over a short horizon by the free energy of the expected
future (``aif_offload.planning.efe``), with M posterior samples of the model parameters as the
world models whose disagreement is the epistemic term; the agent takes the first action of the
best sequence the planner found.
Learn: once per episode the world model learns from that episode's experience (shipped: the
parameter posterior is refitted by SVI, the previous posterior of the service speeds serving as
the prior, assumed-density filtering).

Continuous allocation -> environment levels. A candidate action is a vector ``z`` of S + 1 reals:
the server is ``argmax z[:S]``; the compute share is ``z[S]`` clipped to [0, 1] and mapped to the
smallest compute level >= it (the largest level if none). Bandwidth and memory follow the
nominal rule of ``Forecaster.nominal_allocation`` (the least bandwidth, the least memory that
holds the task's KV cache): neither binds in the embedded scenarios.

Predictions for the planner. Task h of the horizon is assumed to look like the current task (the
next tasks are unknown). Under model m: the load before task h is the filter's mean plus the
expected allocations of the planned tasks minus the ledger's scheduled releases, with the filter's
sd grown by the process noise; the task fits with probability ``Phi((1 + g/2 - frac - mu) / sd)``
(``g``: the server's smallest allocation step, since its load lies on that grid); its
compute time is log-normal around the nominal time (eq. 8 via ``Forecaster``) times
``exp(log_speed[m, server])``; it meets t_max with the matching normal probability, after the
forecast transmission/propagation and the queueing estimate from a mirror of the server's
``max_parallel`` processing slots filled with the agent's own tasks. The clock
(``aif_offload.agents.event_clock``) is the real one: arrival times are the cumulative sum of the
observed gaps (``gap_s``) where the scenario observes its clock and arrivals are not evenly
spaced (the trace scenarios), else the step count times the interarrival time (exact for
``arrival = "per_step"``); the planned tasks after the current one are placed at the mean gap.
``true_load`` is recorded for diagnostics, never used for decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
from scipy.special import ndtr

from aif_offload.agents import declared
from aif_offload.agents.allocation import Forecaster
from aif_offload.agents.base import Agent, EnvContext, Transition
from aif_offload.agents.event_clock import EventClock
from aif_offload.agents.model_source import ModelSource
from aif_offload.agents.priors import PRIORS, Prior
from aif_offload.agents.world_model import WorldModel
from aif_offload.planning.cem import CemConfig, cem_plan
from aif_offload.planning.efe import Preferences, expected_free_energy
from aif_offload.sim.outcome import COMPLETED, DEADLINE_EXCEEDED, Outcome


@dataclass(frozen=True)
class AifPyroConfig:
    """Settings of ``aif-pyro``."""

    planner: CemConfig = field(default_factory=CemConfig)
    preferences: Preferences = field(default_factory=Preferences)
    num_models: int = 8  # posterior samples of the parameters used as world models
    svi_steps: int = 60  # SVI steps per episode refit (warm-started from the last posterior)
    svi_lr: float = 0.05
    svi_jit: bool = True
    prior_log_speed_scale: float = 0.3
    process_noise: float = 0.003  # filter q until the first refit (the ledger is near exact)
    process_noise_prior: float = 0.01  # HalfNormal scale of q: the ledger is exact up to timing
    grid_rounding: float = 1.0  # 1: round the predicted room to the server's allocation grid
    speed_scale_floor: float = 0.02  # floor on the posterior sd carried into the next prior
    ppc_draws: int = 50  # posterior draws for the predictive check in ``belief_data`` (0: none)


# ``@prior=vague``: the server speeds' log-sd prior from 0.3 to 1.0 (a factor e either way at one
# sd, against 1.35), and the load's process noise (initial q and its HalfNormal prior scale) widened
# threefold and fivefold: the model's structure (eq. 8's nominal times) stays, its trust in them goes.
VAGUE_PRIOR = {"prior_log_speed_scale": 1.0, "process_noise": 0.01, "process_noise_prior": 0.05}

# Per-step beliefs and EFE terms, and the observations and inputs of the model, kept per episode.
_RECORDED = ("load_mean", "load_sd", "true_load", "risk", "info_gain", "efe")
_OBSERVED = ("control", "server", "log_nominal", "log_compute", "report", "compute_mask")
_SHIPPED = "aif_offload.models.latent_load_world:build"


class _Ledger:
    """The agent's own admitted tasks per row: server, compute fraction, release and end times."""

    def __init__(self, batch: int, slots: int) -> None:
        self.server = np.zeros((batch, slots), dtype=np.int64)
        self.fraction = np.zeros((batch, slots))
        self.release_s = np.full((batch, slots), np.inf)
        self.end_s = np.full((batch, slots), np.inf)
        self.active = np.zeros((batch, slots), dtype=bool)

    def add(self, rows, server, fraction, release_s, end_s) -> None:
        for b, j, f, r, e in zip(rows, server, fraction, release_s, end_s, strict=True):
            free = np.flatnonzero(~self.active[b])
            if free.size == 0:  # full: grow
                self._grow()
                free = np.flatnonzero(~self.active[b])
            k = free[0]
            self.server[b, k], self.fraction[b, k] = j, f
            self.release_s[b, k], self.end_s[b, k] = r, e
            self.active[b, k] = True

    def _grow(self) -> None:
        pad = self.active.shape[1]
        self.server = np.pad(self.server, ((0, 0), (0, pad)))
        self.fraction = np.pad(self.fraction, ((0, 0), (0, pad)))
        self.release_s = np.pad(self.release_s, ((0, 0), (0, pad)), constant_values=np.inf)
        self.end_s = np.pad(self.end_s, ((0, 0), (0, pad)), constant_values=np.inf)
        self.active = np.pad(self.active, ((0, 0), (0, pad)))

    def released_between(self, start_s: np.ndarray, end_s: np.ndarray, servers: int) -> np.ndarray:
        """(B, S) fraction released in (start, end]; start/end (B,) or (B, H) -> (B, H, S)."""
        start, end = np.atleast_2d(start_s.T).T, np.atleast_2d(end_s.T).T  # (B, H)
        hit = (
            self.active[:, None]
            & (self.release_s[:, None] > start[..., None])
            & (self.release_s[:, None] <= end[..., None])
        )  # (B, H, K)
        one_hot = self.server[..., None] == np.arange(servers)  # (B, K, S)
        return np.einsum("bhk,bk,bks->bhs", hit, self.fraction, one_hot)

    def prune(self, now_s: np.ndarray) -> None:
        now = np.asarray(now_s, float).reshape(-1, 1)  # (B, 1), or a scalar for every row
        self.active &= ~((self.release_s <= now) & (self.end_s <= now))


class _Slots:
    """Mirror of the simulator's parallel-processing slots, filled with the agent's own tasks."""

    def __init__(self, batch: int, max_parallel: np.ndarray) -> None:
        width = int(max_parallel.max())
        live = np.arange(width)[None, :] < max_parallel[:, None]
        self.free_at = np.repeat(np.where(live, -np.inf, np.inf)[None], batch, axis=0)

    def wait(self, arrive_s: np.ndarray) -> np.ndarray:
        """(B, S) queueing before a slot frees for a task reaching each server at ``arrive_s``."""
        return np.maximum(self.free_at.min(axis=-1) - arrive_s, 0.0)

    def occupy(self, rows, server, start_s, end_s) -> None:
        slot = self.free_at[rows, server].argmin(axis=-1)
        self.free_at[rows, server, slot] = np.maximum(end_s, start_s)


class AifPyroAgent(declared.AifPyro, Agent):
    learns = True
    _learn_keys = ("svi_loss",)
    model: ClassVar[ModelSource | str] = ModelSource(_SHIPPED)
    prior: ClassVar[Prior] = Prior("nominal")
    priors: ClassVar[tuple[str, ...]] = PRIORS
    hyperparameters: ClassVar[dict[str, str]] = {"model": "model", "prior": "prior"}

    def __init__(
        self, context: EnvContext, *, seeds: Sequence[int], config: AifPyroConfig | None = None
    ) -> None:
        super().__init__(context, seeds=seeds)
        self.config = config or AifPyroConfig()
        if self.prior.vague:  # wide priors on what the nominal view states (VAGUE_PRIOR)
            self.config = replace(self.config, **VAGUE_PRIOR)
        self.forecaster = Forecaster(context)
        scenario = context.scenario
        servers = self.forecaster.servers
        self.num_servers = servers.num_servers
        # Compute fraction of a server taken by one task at each compute level: share / num GPUs.
        shares = np.asarray(scenario.actions.compute_shares)
        self.shares = shares
        self.level_fraction = (
            shares[None, :] * servers.gpu_tflops[:, None] / servers.capacity[0][:, None]
        )
        self.max_parallel = np.array([s.max_parallel for s in scenario.servers], dtype=float)
        # A server's load is a sum of its allocation levels: a grid of step g_j. The room left is
        # rounded to that grid (a margin of g_j / 2) before the Gaussian tail is taken.
        self.grid_margin = 0.5 * self.level_fraction.min(axis=1) * self.config.grid_rounding
        self.accuracy = servers.pass_at_100
        self.clock = EventClock(scenario, context.layout, context.batch_size)
        obs = scenario.observation
        self.delay = obs.report_delay_steps if obs.mode == "partial" else 0
        self.report_noise = max(obs.report_noise_std if obs.mode == "partial" else 0.0, 1e-3)
        # The world model (its prior draws come from self.rngs, before the planner uses them).
        self.world = ModelSource(self.model).build(self)
        if not isinstance(self.world, WorldModel):
            raise ValueError(
                f"model: '{self.model}' returned {type(self.world).__name__}; a continuous "
                "model's build(agent) must return an aif_offload.agents.world_model.WorldModel "
                "(load_mean, load_sd, process_noise, begin_episode, perceive, advance, predict, "
                "learn, posterior)"
            )
        self.episode_index = 0
        self.frozen = False
        self.records: list[dict[str, np.ndarray]] = []
        self.begin_episode()

    # --- perception -------------------------------------------------------------------------
    def begin_episode(self) -> None:
        b = self.context.batch_size
        self.clock.reset()
        self.world.begin_episode()
        self.ledger = _Ledger(b, 64)
        self.slots = _Slots(b, self.max_parallel)
        self.plan_mean = None
        self._episode: dict[str, list[np.ndarray]] = {
            k: []
            for k in (
                "control",
                "server",
                "log_nominal",
                "log_compute",
                "report",
                "compute_mask",
                "load_mean",
                "load_sd",
                "true_load",
                "risk",
                "info_gain",
                "efe",
                "innovation",
            )
        }
        self._pending: dict[str, np.ndarray] | None = None

    def _used_report(self, observation: np.ndarray) -> np.ndarray:
        return 1.0 - self.context.layout.get(observation, "remaining_compute").astype(float)

    # --- planning ---------------------------------------------------------------------------
    def _predictions(self, observation: np.ndarray):
        """Deterministic parts of the outcome for every server and compute level (B, S, C)."""
        forecast = self.forecaster.forecast_all(observation)
        nominal = self.forecaster.nominal_allocation(observation, np.zeros(len(observation), int))
        b = observation.shape[0]
        rows = np.arange(b)[:, None, None]
        w, m = nominal[:, 2][:, None, None], nominal[:, 3][:, None, None]
        c = np.arange(self.shares.size)[None, None, :]
        s = np.arange(self.num_servers)[None, :, None]
        travel = (forecast.transmission_s + forecast.propagation_s)[rows, s, c, w, m]
        compute = forecast.compute_s[rows, s, c, w, m]
        return travel, compute, nominal

    def _queue_wait(self, now_s: np.ndarray, travel: np.ndarray) -> np.ndarray:
        """(B, S, C) wait for a processing slot (the agent's own tasks in the mirrored slots)."""
        arrive = now_s[:, None] + 0.5 * travel.min(axis=-1)
        return self.slots.wait(arrive)[..., None] + np.zeros_like(travel)

    def _decode(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidates (..., D) -> server index and compute level index."""
        server = z[..., : self.num_servers].argmax(axis=-1)
        share = np.clip(z[..., self.num_servers], 0.0, 1.0)
        above = self.shares[None] >= share[..., None] - 1e-9
        level = np.where(above.any(axis=-1), above.argmax(axis=-1), self.shares.size - 1)
        return server, level

    def _world_models(self, observation: np.ndarray, compute: np.ndarray):
        """Per world model m, server and compute level (B, M, S, C): mean and sd of the log
        compute time, and the expected load step of the allocation (what it adds to the server's
        load). Here: the world model's forecast of the compute time, and the known fraction
        (``aif-ensemble`` learns both instead)."""
        mean, sd = self.world.predict(np.log(compute))
        step = np.broadcast_to(self.level_fraction[None, None], mean.shape)
        return mean, sd, step

    def _score(self, z, travel, models, t_max, wait, releases):
        """EFE (B, J) of candidates z (B, J, H, D), and the per-step terms."""
        mean_c, sd_c, step = models
        b, _, h, _ = z.shape
        m = mean_c.shape[1]
        server, level = self._decode(z)  # (B, J, H)
        rows = np.arange(b)[:, None, None]
        tr = travel[rows, server, level]
        q = wait[rows, server, level]
        pick = (
            np.arange(b)[:, None, None, None],
            np.arange(m)[None, :, None, None],
            server[:, None],
            level[:, None],
        )
        mu_c, s, frac = mean_c[pick], sd_c[pick], step[pick]  # (B, M, J, H)
        # Load of the chosen server before each planned task, under each model.
        mu0 = self.world.load_mean[rows, server]
        var0 = self.world.load_sd[rows, server] ** 2
        cum_rel = np.cumsum(releases, axis=1)  # (B, H, S) releases before step h (h=0: none)
        cum_rel = np.concatenate([np.zeros_like(cum_rel[:, :1]), cum_rel[:, :-1]], axis=1)
        rel = cum_rel[rows, np.arange(h)[None, None, :], server]
        same = server[..., :, None] == server[..., None, :]  # (B, J, H, H')
        earlier = np.tril(np.ones((h, h), dtype=bool), k=-1)
        planned = np.einsum("bjhg,bmjg->bmjh", same & earlier, frac)
        mu = (mu0 - rel)[:, None] + planned
        sd = np.sqrt(
            var0 + (np.arange(h) * self.world.process_noise[:, None, None] ** 2) + 0.005**2
        )
        margin = 1e-3 + self.grid_margin[server]
        need = self.level_fraction[server, level][:, None]  # what the allocation asks for
        p_fit = ndtr(((1.0 + margin)[:, None] - need - mu) / sd[:, None])  # (B, M, J, H)
        slack = np.maximum(t_max[:, None, None, None] - tr[:, None] - q[:, None], 1e-6)
        p_deadline = ndtr((np.log(slack) - mu_c) / s)
        p_complete = np.moveaxis(p_fit * p_deadline, 1, 0)  # (M, B, J, H)
        latency = tr[:, None] + q[:, None] + np.exp(mu_c)
        terms = expected_free_energy(
            p_complete,
            np.moveaxis(np.log(latency), 1, 0),
            np.moveaxis(s, 1, 0),
            self.accuracy[server],
            self.config.preferences,
        )
        return terms.efe.sum(axis=-1), terms

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        report = self._used_report(observation)
        innovation = self.world.perceive(report)
        now = self.clock.tick(observation)  # (B,) arrival time of this task
        travel, compute, nominal = self._predictions(observation)
        t_max = self.context.layout.get(observation, "t_max_s").astype(float)
        wait = self._queue_wait(now, travel)
        models = self._world_models(observation, compute)
        h = self.config.planner.horizon
        edges = self.clock.horizon(now, h)
        releases = self.ledger.released_between(
            edges[:, :-1], edges[:, 1:], self.num_servers
        )  # (B, H, S) released between planned steps h and h+1
        d = self.num_servers + 1
        mean = np.zeros((len(observation), h, d))
        mean[..., self.num_servers] = 0.9
        if self.plan_mean is not None:  # warm start: shift the previous plan
            mean[:, :-1] = self.plan_mean[:, 1:]
        plan = cem_plan(
            lambda z: self._score(z, travel, models, t_max, wait, releases)[0],
            mean,
            self.rngs,
            self.config.planner,
        )
        self.plan_mean = plan.mean
        _, terms = self._score(plan.best[:, None], travel, models, t_max, wait, releases)
        server, level = self._decode(plan.best[:, 0])
        action = nominal.copy()
        action[:, 0], action[:, 1] = server, level
        rows = np.arange(len(observation))
        self._pending = {
            "now": now,
            "fraction": self.level_fraction[server, level],
            "log_nominal": np.log(compute[rows, server, level]),
            "report": report,
            "load_mean": np.array(self.world.load_mean, dtype=float),
            "load_sd": np.array(self.world.load_sd, dtype=float),
            "risk": terms.risk[:, 0, 0],
            "info_gain": terms.info_gain[:, 0, 0],
            "efe": terms.efe[:, 0, 0],
            "innovation": innovation,
        }
        return action.astype(np.int64)

    # --- learning ---------------------------------------------------------------------------
    def observe(self, transition: Transition) -> None:
        pending, info = self._pending, transition.info
        if pending is None:
            return
        b, s = self.context.batch_size, self.num_servers
        action = np.asarray(transition.action)
        server = action[:, 0]
        failure = np.asarray(info["failure"])
        admitted = (failure == COMPLETED) | (failure == DEADLINE_EXCEEDED)
        now = pending["now"]
        latency = np.asarray(info["latency_s"], float)
        t_max = self.context.layout.get(transition.observation, "t_max_s").astype(float)
        rows = np.flatnonzero(admitted)
        release = now + np.minimum(latency, t_max)
        # Compute ends before the reply travels back: about half of transmission + propagation.
        way_back = 0.5 * (np.asarray(info["transmission_s"]) + np.asarray(info["propagation_s"]))
        compute_end = now + np.minimum(latency - way_back, t_max)
        self.ledger.add(
            rows, server[rows], pending["fraction"][rows], release[rows], compute_end[rows]
        )
        # A task abandoned while still queued never takes a processing slot (as in the simulator).
        start = compute_end - np.asarray(info["compute_s"], float)
        runs = rows[start[rows] < (now + t_max)[rows]]
        self.slots.occupy(runs, server[runs], start[runs], compute_end[runs])
        allocated = np.zeros((b, s))
        allocated[rows, server[rows]] = pending["fraction"][rows]
        next_now = self.clock.next_arrival(transition.next_observation)
        released = self.ledger.released_between(now, next_now, s)[:, 0]
        control = allocated - released
        self.world.advance(control)
        self.ledger.prune(next_now)
        compute_s = np.asarray(info["compute_s"], float)
        ok = np.isfinite(compute_s) & (compute_s > 0)
        ep = self._episode
        ep["control"].append(control)
        ep["server"].append(server)
        ep["log_nominal"].append(pending["log_nominal"])
        ep["log_compute"].append(np.log(np.where(ok, compute_s, 1.0)))
        ep["compute_mask"].append(ok)
        ep["report"].append(pending["report"])
        for key in ("load_mean", "load_sd", "risk", "info_gain", "efe", "innovation"):
            ep[key].append(pending[key])
        true_load = info.get("true_load")
        ep["true_load"].append(
            np.full((b, s), np.nan) if true_load is None else np.asarray(true_load)[:, 0, :]
        )
        self._pending = None

    def freeze(self) -> None:
        """Stop refitting the parameters (evaluation); beliefs are still filtered and recorded."""
        self.frozen = True

    def _learn(self, ep: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Let the world model learn from the episode ``ep`` (B, T, ...)."""
        return self.world.learn(ep, self.episode_index)

    @property
    def _shipped(self) -> bool:
        """Whether the world model is the shipped latent load model (its beliefs are saved)."""
        from aif_offload.models.latent_load_world import LatentLoadWorldModel

        return isinstance(self.world, LatentLoadWorldModel)

    def end_episode(self) -> dict[str, np.ndarray]:
        ep = {k: np.stack(v, axis=1) for k, v in self._episode.items() if v}
        if not ep:
            return {}
        # The prior of this episode's refit (the observations are kept for posterior checks).
        shipped = self._shipped
        if shipped:
            prior_loc, prior_scale = self.world.speed_loc.copy(), self.world.speed_scale.copy()
        if self.frozen:
            learned = {k: np.full(self.context.batch_size, np.nan) for k in self._learn_keys}
        else:
            learned = self._learn(ep)
        self.episode_index += 1
        record = {k: ep[k] for k in (*_RECORDED, *_OBSERVED)} | {"train": not self.frozen}
        if not shipped:  # a user's world model: no speeds of the latent load model to score
            self.records.append(record)
            return {**learned, **self._belief_errors(ep)}
        speeds = self.world.speed_loc
        predicted = ep["log_nominal"] + np.take_along_axis(speeds, ep["server"], axis=1)
        error = np.where(ep["compute_mask"], np.abs(ep["log_compute"] - predicted), np.nan)
        self.records.append(record | {"prior_loc": prior_loc, "prior_scale": prior_scale})
        return {
            **learned,
            "log_compute_abs_error": np.nanmean(error, axis=1),
            **self._belief_errors(ep),
        }

    @staticmethod
    def _belief_errors(ep: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {
            "mean_abs_innovation": np.nanmean(np.abs(ep["innovation"]), axis=(1, 2)),
            "load_abs_error": np.nanmean(np.abs(ep["load_mean"] - ep["true_load"]), axis=(1, 2)),
        }

    def belief_data(self):
        """Recorded beliefs, observations and posterior checks as ArviZ InferenceData (layout:
        ``aif_offload.agents.pyro_beliefs``); None before the first episode ends, and for a
        user's world model (the layout is the latent load model's)."""
        from aif_offload.agents.pyro_beliefs import belief_data

        if not self._shipped:
            return None

        return belief_data(self)
