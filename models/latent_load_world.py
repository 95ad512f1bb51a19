"""``aif-pyro``'s world model: the latent load model behind :class:`~aif_offload.agents.world_model.WorldModel`.

Perceive: a closed-form Kalman filter (``aif_offload.inference.filtering``) of
:mod:`aif_offload.models.latent_load_model`'s linear-Gaussian load (clipped reports are treated as
censored). Predict: the compute time is log-normal around the nominal time times
``exp(log_speed[m, server])``, with M posterior draws of the speeds and of the compute noise.
Learn: once per episode the parameter posterior of every row is refitted by SVI on that episode,
the previous posterior of the service speeds serving as the prior (assumed-density filtering);
the filter's process and report noise become the posterior medians. Until the first refit the
draws come from the prior.
"""

from __future__ import annotations

import numpy as np
import torch
from aif_offload.models.latent_load_model import LoadData, LoadModelPrior

from aif_offload.inference.filtering import LoadFilter
from aif_offload.inference.svi import SviRefitter

OBSERVED = ("control", "server", "log_nominal", "log_compute", "report", "compute_mask")


def report_mask(report: np.ndarray) -> np.ndarray:
    """Reports clipped to 0 or 1 by the environment are censored: left out of the likelihood."""
    return (report > 0.0) & (report < 1.0)


def load_data(arrays: dict[str, np.ndarray], *, observed: bool = True) -> LoadData:
    """The model's inputs from recorded arrays (E, T, ...) of one row; ``observed=False`` leaves
    the observations out (to sample them)."""
    return LoadData(
        control=torch.tensor(arrays["control"]),
        server=torch.tensor(arrays["server"]),
        log_nominal_compute=torch.tensor(arrays["log_nominal"]),
        log_compute=torch.tensor(arrays["log_compute"]) if observed else None,
        report=torch.tensor(arrays["report"]) if observed else None,
        compute_mask=torch.tensor(arrays["compute_mask"]),
        report_mask=torch.tensor(report_mask(arrays["report"])),
    )


class LatentLoadWorldModel:
    """Filter, forecast and SVI refits of the latent load model for B rows and S servers.

    ``config`` is the agent's ``AifPyroConfig``; ``rngs`` the agent's per-row generators (the
    prior draws of the world models are taken from them, in order).
    """

    def __init__(
        self, batch: int, servers: int, *, delay: int, report_noise: float, config, seeds, rngs
    ) -> None:
        self.config = config
        self.seeds = list(seeds)
        self.delay, self.report_noise = delay, report_noise
        self.filter = LoadFilter(
            batch,
            servers,
            delay=delay,
            process_noise=config.process_noise,
            report_noise=report_noise,
        )
        self.speed_loc = np.zeros((batch, servers))
        self.speed_scale = np.full((batch, servers), config.prior_log_speed_scale)
        m = config.num_models
        self.model_log_speed = np.stack(
            [rng.normal(0.0, config.prior_log_speed_scale, (m, servers)) for rng in rngs]
        )  # (B, M, S)
        self.model_compute_noise = np.full((batch, m), 0.1)
        self.refitters = [SviRefitter(lr=config.svi_lr, jit=config.svi_jit) for _ in range(batch)]

    # --- WorldModel -------------------------------------------------------------------------
    @property
    def load_mean(self) -> np.ndarray:
        return self.filter.load_mean

    @property
    def load_sd(self) -> np.ndarray:
        return self.filter.load_sd

    @property
    def process_noise(self) -> np.ndarray:
        return self.filter.q[:, 0]

    def begin_episode(self) -> None:
        self.filter.reset()

    def perceive(self, report: np.ndarray) -> np.ndarray:
        return self.filter.update(report)

    def advance(self, control: np.ndarray) -> None:
        self.filter.predict(control)

    def predict(self, log_nominal_compute: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b, m = log_nominal_compute.shape[0], self.config.num_models
        shape = (b, m, *log_nominal_compute.shape[1:])
        mean = log_nominal_compute[:, None] + self.model_log_speed[..., None]
        sd = np.broadcast_to(self.model_compute_noise[:, :, None, None], shape)
        return mean, sd

    def learn(self, episode: dict[str, np.ndarray], episode_index: int) -> dict[str, np.ndarray]:
        """Refit the parameter posterior of every row by SVI on ``episode`` (B, T, ...)."""
        b, m = len(self.seeds), self.config.num_models
        losses = np.full(b, np.nan)
        prior_scale = self.config.prior_log_speed_scale
        for i in range(b):
            prior = self.prior(self.speed_loc[i], self.speed_scale[i])
            data = load_data({k: episode[k][i][None] for k in OBSERVED})
            seed = (self.seeds[i] * 100_003 + episode_index) % (2**31)
            fit = self.refitters[i].fit(
                data, prior, steps=self.config.svi_steps, num_samples=m, seed=seed
            )
            losses[i] = fit.losses[-10:].mean()
            self.speed_loc[i] = fit.log_speed_loc
            self.speed_scale[i] = np.clip(
                fit.log_speed_scale, self.config.speed_scale_floor, prior_scale
            )
            draws = fit.samples
            self.model_log_speed[i] = draws["log_speed"].reshape(m, -1)
            self.model_compute_noise[i] = np.maximum(draws["compute_noise"].reshape(m), 1e-3)
            med = fit.medians
            self.filter.q[i] = max(float(med["process_noise"]), 1e-4)
            self.filter.r[i] = max(float(med["report_noise"]), 1e-3)
        return {"svi_loss": losses}

    def posterior(self) -> dict[str, np.ndarray]:
        return {"log_speed": self.model_log_speed, "compute_noise": self.model_compute_noise}

    # --- the latent load model's own ---------------------------------------------------------
    def prior(self, log_speed_loc: np.ndarray, log_speed_scale: np.ndarray) -> LoadModelPrior:
        """The model prior of a refit, around the given (S,) prior of the log speeds."""
        return LoadModelPrior(
            log_speed_loc=torch.tensor(log_speed_loc),
            log_speed_scale=torch.tensor(log_speed_scale),
            report_noise_scale=self.report_noise,
            process_noise_scale=self.config.process_noise_prior,
            report_delay=self.delay,
        )


def build(agent) -> LatentLoadWorldModel:
    """``aif-pyro``'s world model for the agent's batch, servers, report delay and noise."""
    return LatentLoadWorldModel(
        agent.context.batch_size,
        agent.num_servers,
        delay=agent.delay,
        report_noise=agent.report_noise,
        config=agent.config,
        seeds=agent.seeds,
        rngs=agent.rngs,
    )
