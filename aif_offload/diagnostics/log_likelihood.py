"""Pointwise log likelihood of the latent load model under posterior draws (for ``az.loo``).

Given the global parameters the compute-time observations are independent, so each has its own
log density. The load reports of one (episode, server) series are not (they share the latent
load path); their joint density, which ``marginal_load_model`` evaluates in closed form, is split
exactly into one term per observed report by the prediction-error decomposition
``log p(y_1..y_T) = sum_t log p(y_t | y_<t)``, computed by a Kalman filter over the lagged load
(a random walk: ``sigma_0^2`` at the start, ``q^2`` per step of the report's lag). The terms sum to
the marginal model's ``report_marginal`` factor (a test checks it); PSIS-LOO on them treats each
report as one data point given the earlier ones of its series.

The result has one entry per observation, with named dims: ``report`` (chain, draw,
``report_obs``) and ``log_compute`` (chain, draw, ``compute_obs``); each observation dim carries
coordinates ``<dim>_episode``, ``<dim>_step`` (and ``report_obs_server``) naming its observation.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from aif_offload.models.latent_load_model import LoadData, LoadModelPrior

_LOG_2PI = float(np.log(2.0 * np.pi))


def _flat(posterior: xr.Dataset, name: str) -> np.ndarray:
    """(chain * draw, ...) values of one parameter."""
    values = posterior[name].transpose("chain", "draw", ...).values.astype(float)
    return values.reshape(-1, *values.shape[2:])


def report_terms(
    data: LoadData, prior: LoadModelPrior, process_noise: np.ndarray, report_noise: np.ndarray
) -> np.ndarray:
    """``log p(y_t | y_<t)`` of every report (D, E, T, S) under D draws of ``q`` and ``r``; NaN
    where the report is masked or missing."""
    control = data.control.numpy().astype(float)
    e, t, s = control.shape
    report = data.report.numpy().astype(float)
    keep = np.ones((e, t, s), bool) if data.report_mask is None else data.report_mask.numpy()
    drift = np.concatenate([np.zeros((e, 1, s)), np.cumsum(control[:, :-1], axis=1)], axis=1)
    lag = np.clip(np.arange(t) - prior.report_delay, 0, None)
    residual = report - drift[:, lag, :]
    q2 = np.asarray(process_noise, float).reshape(-1, 1, 1) ** 2
    r2 = np.asarray(report_noise, float).reshape(-1, 1, 1) ** 2
    d = q2.shape[0]
    mean = np.zeros((d, e, s))
    var = np.full((d, e, s), prior.initial_scale**2)
    out = np.full((d, e, t, s), np.nan)
    for step in range(t):
        if step > 0 and lag[step] > lag[step - 1]:
            var = var + q2
        seen = keep[:, step, :]  # (E, S)
        total = var + r2
        error = residual[:, step, :] - mean
        term = -0.5 * (_LOG_2PI + np.log(total) + error**2 / total)
        out[:, :, step, :] = np.where(seen, term, np.nan)
        gain = np.where(seen, var / total, 0.0)
        mean = mean + gain * error
        var = (1.0 - gain) * var
    return out


def compute_terms(
    data: LoadData, prior: LoadModelPrior, log_speed: np.ndarray, compute_noise: np.ndarray
) -> np.ndarray:
    """Log density of every compute-time observation (D, E, T); NaN where masked."""
    mean = (
        data.log_nominal_compute.numpy()[None]
        + np.asarray(log_speed, float)[:, data.server.numpy()]
    )
    sd2 = np.asarray(compute_noise, float).reshape(-1, 1, 1) ** 2 + prior.compute_noise_floor**2
    y = data.log_compute.numpy()[None]
    out = -0.5 * (_LOG_2PI + np.log(sd2) + (y - mean) ** 2 / sd2)
    mask = np.ones(y.shape[1:], bool) if data.compute_mask is None else data.compute_mask.numpy()
    return np.where(mask[None], out, np.nan)


def _observations(name: str, terms: np.ndarray, shape: tuple[int, int], coords: dict) -> xr.Dataset:
    """Keep the observed entries of (D, E, T[, S]) terms as one ``<name>`` dim."""
    known = np.isfinite(terms).all(axis=0)
    index = np.nonzero(known)
    values = terms[:, known].reshape(*shape, -1)
    dim = "report_obs" if terms.ndim == 4 else "compute_obs"
    labels = {f"{dim}_episode": coords["episode"], f"{dim}_step": coords["step"]}
    if terms.ndim == 4:
        labels[f"{dim}_server"] = coords["server"]
    found = {k: (dim, np.asarray(v)[i]) for (k, v), i in zip(labels.items(), index, strict=True)}
    return xr.Dataset({name: (("chain", "draw", dim), values)}, coords=found)


def pointwise_log_likelihood(
    data: LoadData,
    prior: LoadModelPrior,
    posterior: xr.Dataset,
    *,
    compute: bool,
    episodes: list[int] | None = None,
    servers: list[str] | None = None,
) -> xr.Dataset:
    """The ``log_likelihood`` group of a NUTS file: ``report`` and (``compute=True``: the fit
    used them) ``log_compute`` per observation under every draw of ``posterior`` (chain, draw)."""
    e, t, s = data.shape
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    coords = {
        "episode": np.arange(e) if episodes is None else np.asarray(episodes),
        "step": np.arange(t),
        "server": [str(j) for j in range(s)] if servers is None else list(servers),
    }
    terms = report_terms(
        data, prior, _flat(posterior, "process_noise"), _flat(posterior, "report_noise")
    )
    parts = [_observations("report", terms, shape, coords)]
    if compute and data.log_compute is not None:
        terms = compute_terms(
            data, prior, _flat(posterior, "log_speed"), _flat(posterior, "compute_noise")
        )
        parts.append(_observations("log_compute", terms, shape, coords))
    return xr.merge(parts).assign_coords(
        chain=posterior["chain"].values, draw=posterior["draw"].values
    )
