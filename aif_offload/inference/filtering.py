"""Closed-form per-step belief update of the latent load (a Kalman filter with delayed reports).

The model (``aif_offload.models.latent_load_model``) is linear-Gaussian in the load: a random walk
with known drift (the agent's own allocations minus its ledger's releases) observed through reports
delayed by ``d`` steps. The filter keeps, per (row, server), the joint Gaussian of the lag window
``(x_t, x_{t-1}, ..., x_{t-d})``; a report updates it through its last entry, a step shifts it.
Everything is batched NumPy over (B, S): a few microseconds per step. Reports are clipped to
``bounds`` ([0, 1]) by the environment; a clipped report is censored, not Gaussian: it only says
``x + noise >= 1`` (or ``<= 0``). Such a report updates the belief by moment matching the probit
likelihood ``Phi((x - 1) / r)`` (assumed-density filtering, closed form); using it as Gaussian
would bias a full server's load downwards, and skipping it would bias it too (only the reports
that happened to fall inside would be kept).
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


class LoadFilter:
    """Kalman filter over the lag window of every (row, server) load.

    Parameters
    ----------
    batch, servers:
        B rows (independent environments) and S servers.
    delay:
        Report delay d in steps.
    process_noise, report_noise:
        q and r of the model, scalars or (B,) per row (posterior means of the SVI fit).
    initial_scale:
        Sd of the load at the first dispatch of an episode.
    """

    def __init__(
        self,
        batch: int,
        servers: int,
        *,
        delay: int = 2,
        process_noise: float | np.ndarray = 0.02,
        report_noise: float | np.ndarray = 0.05,
        initial_scale: float = 0.01,
        bounds: tuple[float, float] | None = (0.0, 1.0),
    ) -> None:
        if delay < 0:
            raise ValueError(f"delay: must be >= 0, got {delay}")
        self.batch, self.servers, self.delay = batch, servers, delay
        self.initial_scale = initial_scale
        self.bounds = bounds
        self.set_noise(process_noise, report_noise)
        self.reset()

    def set_noise(
        self, process_noise: float | np.ndarray, report_noise: float | np.ndarray
    ) -> None:
        self.q = np.broadcast_to(np.asarray(process_noise, float), (self.batch,))[:, None].copy()
        self.r = np.broadcast_to(np.asarray(report_noise, float), (self.batch,))[:, None].copy()

    def reset(self) -> None:
        """Start of an episode: every server idle; the lag window is one perfectly correlated value."""
        d = self.delay + 1
        self.mean = np.zeros((self.batch, self.servers, d))
        self.cov = np.full((self.batch, self.servers, d, d), self.initial_scale**2)

    @property
    def load_mean(self) -> np.ndarray:
        """(B, S) posterior mean of the current load x_t."""
        return self.mean[..., 0]

    @property
    def load_sd(self) -> np.ndarray:
        """(B, S) posterior sd of the current load x_t."""
        return np.sqrt(np.maximum(self.cov[..., 0, 0], 0.0))

    def update(self, report: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Condition on reports y_t = x_{t-d} + N(0, r^2), (B, S); returns the standardised
        innovations. Entries where ``mask`` is False are not used; reports at a bound are censored.
        """
        c = self.cov[..., :, -1]  # (B, S, D) cov(window, x_{t-d})
        p = np.maximum(c[..., -1], 1e-12)  # prior variance of x_{t-d}
        m = self.mean[..., -1]
        total = p + self.r**2
        sd = np.sqrt(total)
        # Gaussian (Kalman) posterior moments of x_{t-d}.
        post_mean = m + p / total * (report - m)
        post_var = p - p**2 / total
        if self.bounds is not None:
            low, high = self.bounds
            for side, hit in ((1.0, report >= high), (-1.0, report <= low)):
                if not hit.any():
                    continue
                edge = high if side > 0 else low
                z = side * (m - edge) / sd  # likelihood Phi(z)
                ratio = np.exp(-0.5 * z**2 - _LOG_SQRT_2PI - log_ndtr(z))  # phi(z) / Phi(z)
                post_mean = np.where(hit, m + side * p * ratio / sd, post_mean)
                post_var = np.where(hit, p - p**2 * ratio * (z + ratio) / total, post_var)
        if mask is not None:
            post_mean = np.where(mask, post_mean, m)
            post_var = np.where(mask, post_var, p)
        # Carry the scalar update of x_{t-d} to the whole window (linear-Gaussian regression).
        gain = c / p[..., None]
        self.mean = self.mean + gain * (post_mean - m)[..., None]
        self.cov = (
            self.cov - gain[..., :, None] * gain[..., None, :] * (p - post_var)[..., None, None]
        )
        return (report - m) / sd

    def predict(self, control: np.ndarray) -> None:
        """Advance one dispatch: x_{t+1} = x_t + u_t + N(0, q^2); the window shifts by one."""
        mean = np.empty_like(self.mean)
        mean[..., 0] = self.mean[..., 0] + control
        mean[..., 1:] = self.mean[..., :-1]
        cov = np.empty_like(self.cov)
        cov[..., 1:, 1:] = self.cov[..., :-1, :-1]
        cov[..., 0, 1:] = self.cov[..., 0, :-1]
        cov[..., 1:, 0] = self.cov[..., :-1, 0]
        cov[..., 0, 0] = self.cov[..., 0, 0] + self.q**2
        self.mean, self.cov = mean, cov
