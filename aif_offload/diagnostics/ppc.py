"""Posterior predictive check numbers of the latent load model, from saved groups only.

``ppc_checks`` reads the ``posterior_predictive``, ``observed_data`` and ``constant_data`` groups
of an ``aif-pyro`` belief file or a NUTS file (an InferenceData or a dict of xarray Datasets) and
needs no Pyro or torch, so the report computes the same numbers as the analysis scripts.
``compare_posteriors`` sets a NUTS posterior beside the agent's SVI draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

OBSERVED = ("log_compute", "report")
MAIN_PARAMETERS = ("log_speed", "process_noise", "report_noise", "compute_noise")
_INPUTS = ("control", "report_delay", "log_nominal_compute")


def _offsets(groups: dict[str, xr.Dataset]) -> dict[str, xr.DataArray] | None:
    """The known part of each observation (inputs only): the nominal log compute time, and the
    load the controls alone predict at the report's lag; None without those inputs."""
    constant = groups.get("constant_data")
    if constant is None or not all(k in constant for k in _INPUTS):
        return None
    control = constant["control"]
    drift = control.cumsum("step").shift(step=1, fill_value=0.0)
    delay = int(constant["report_delay"])
    lag = np.clip(np.arange(control.sizes["step"]) - delay, 0, None)
    seen = drift.isel(step=lag).assign_coords(step=control["step"].values)
    return {"log_compute": constant["log_nominal_compute"], "report": seen}


def _p_value(replicated: np.ndarray, observed: float) -> float:
    """P(T(y_rep) > T(y)) + P(T(y_rep) = T(y)) / 2 over the draws (mid-p for ties)."""
    return float(np.mean(replicated > observed) + 0.5 * np.mean(replicated == observed))


def ppc_checks(
    idata,
    *,
    episodes: list[int] | None = None,
) -> pd.DataFrame:
    """Posterior predictive check numbers per observed variable (rows ``log_compute``,
    ``report``), pooled over the seeds and ``episodes`` (default: all in
    ``posterior_predictive``).

    Columns: ``n`` observations; the observed mean and sd and their Bayesian p-values
    ``P(T(y_rep) > T(y)) + P(T(y_rep) = T(y)) / 2`` (``p_mean``, ``p_sd``); the sd of the residual
    from the known part of the model (nominal log compute time; the load the controls alone
    predict at the report's lag) and its p-value (``resid_sd``, ``p_resid_sd``: the raw sd is
    dominated by the spread of the inputs), likewise their mean (``resid_mean``,
    ``p_resid_mean``), NaN when the file lacks the inputs; ``cover_50`` / ``cover_90``: the fraction of
    observations inside their pointwise central 50 / 90 % predictive interval. p-values near 0
    or 1 flag a misfit; clipped reports (exactly 0 or 1) fall on interval ends and raise the
    coverage of ``report``.
    """
    groups = idata if isinstance(idata, dict) else {g: idata[g] for g in idata.groups()}
    if "posterior_predictive" not in groups:
        raise ValueError("ppc_checks: no posterior_predictive group")
    predictive = groups["posterior_predictive"]
    if episodes is None:
        episodes = [int(e) for e in predictive["episode"].values]
    offsets = _offsets(groups)
    rows = {}
    for name in OBSERVED:
        if name not in predictive or name not in groups["observed_data"]:
            continue
        y = groups["observed_data"][name].sel(episode=episodes)
        rep = predictive[name].sel(episode=episodes).stack(sample=("chain", "draw"))
        rep = rep.transpose("sample", *y.dims)
        known = np.isfinite(y.values)
        yv, rv = y.values[known], rep.values[:, known]
        lo50, hi50, lo90, hi90 = np.quantile(rv, [0.25, 0.75, 0.05, 0.95], axis=0)
        resid = dict.fromkeys(("resid_mean", "p_resid_mean", "resid_sd", "p_resid_sd"), np.nan)
        if offsets is not None:
            offset = offsets[name].sel(episode=episodes).transpose(*y.dims).values
            ry, rr = yv - offset[known], rv - offset[known]
            resid = {
                "resid_mean": float(ry.mean()),
                "p_resid_mean": _p_value(rr.mean(axis=1), ry.mean()),
                "resid_sd": float(ry.std()),
                "p_resid_sd": _p_value(rr.std(axis=1), ry.std()),
            }
        rows[name] = {
            "n": int(known.sum()),
            "mean": float(yv.mean()),
            "p_mean": _p_value(rv.mean(axis=1), yv.mean()),
            "sd": float(yv.std()),
            "p_sd": _p_value(rv.std(axis=1), yv.std()),
            **resid,
            "cover_50": float(np.mean((yv >= lo50) & (yv <= hi50))),
            "cover_90": float(np.mean((yv >= lo90) & (yv <= hi90))),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def compare_posteriors(nuts, svi: xr.Dataset, seed: int) -> pd.DataFrame:
    """Posterior mean and sd of the main parameters under NUTS and under the agent's SVI guide
    (the ``posterior`` group of its belief file, one seed), one row per parameter."""
    rows = {}
    for name in MAIN_PARAMETERS:
        if name not in nuts.posterior or name not in svi:
            continue
        exact = nuts.posterior[name].stack(sample=("chain", "draw"))
        guide = svi[name].sel(seed=seed).stack(sample=("chain", "draw"))
        labels = [name]
        if "server" in exact.dims:
            labels = [f"{name}[{s}]" for s in exact["server"].values]
        for k, label in enumerate(labels):
            e = exact.values[k] if "server" in exact.dims else exact.values
            g = guide.transpose(..., "sample").values
            g = g[k] if "server" in guide.dims else g
            rows[label] = {
                "nuts_mean": float(e.mean()),
                "nuts_sd": float(e.std()),
                "svi_mean": float(g.mean()),
                "svi_sd": float(g.std()),
            }
    return pd.DataFrame.from_dict(rows, orient="index")
