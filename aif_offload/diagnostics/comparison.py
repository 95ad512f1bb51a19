"""Per-seed values of a results file, the shapes every comparison statistic starts from.

A seed is one independent run, so every interval over seeds starts from one number per seed: the
mean over held-out evaluation episodes when the file has them (the frozen agent on workloads no
training run saw), else the mean over training episodes; or the level a learning curve ends at.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

SWEEP_DIMS = ("t_max_s", "load_percent")


def sweep_dim(data: xr.Dataset) -> str | None:
    """The swept parameter of a results file (``t_max_s`` or ``load_percent``), or None."""
    return next((d for d in SWEEP_DIMS if d in data.dims), None)


def has_eval(data: xr.Dataset, metric: str = "completion_rate") -> bool:
    """Whether the file holds held-out evaluation values of ``metric`` (not all NaN)."""
    key = f"eval_{metric}"
    return key in data and bool(np.isfinite(data[key].values).any())


def _nanmean(array: xr.DataArray, dim: str) -> xr.DataArray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN slices stay NaN
        return array.mean(dim, skipna=True)


def per_seed(data: xr.Dataset, metric: str, *, phase: str = "auto") -> xr.DataArray:
    """One value per (agent, seed[, sweep]): the mean of ``metric`` over episodes.

    ``phase`` is ``eval`` (held-out evaluation episodes), ``train`` (training episodes) or
    ``auto``: evaluation when the file has it, else training.
    """
    if phase not in ("auto", "eval", "train"):
        raise ValueError(f"phase: unknown '{phase}', allowed: auto, eval, train")
    use_eval = has_eval(data, metric) if phase == "auto" else phase == "eval"
    if use_eval:
        if f"eval_{metric}" not in data:
            raise ValueError(f"metric: the results have no evaluation values of '{metric}'")
        return _nanmean(data[f"eval_{metric}"], "eval_episode")
    if metric not in data:
        raise ValueError(f"metric: the results have no '{metric}'")
    return _nanmean(data[metric], "episode")


def final_level(data: xr.Dataset, metric: str, *, window: int = 5) -> xr.DataArray:
    """The level a training curve ends at: the mean of its last ``window`` episodes, per seed."""
    curve = data[metric]
    last = curve.isel(episode=slice(max(0, curve.sizes["episode"] - window), None))
    return _nanmean(last, "episode")


def curve_jitter(curve: np.ndarray) -> float:
    """Mean absolute change between consecutive episodes of a curve (NaN if under two points)."""
    curve = np.asarray(curve, dtype=float)
    steps = np.abs(np.diff(curve))
    steps = steps[np.isfinite(steps)]
    return float(steps.mean()) if steps.size else float("nan")


def bootstrap_band(
    values: np.ndarray, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds and its percentile-bootstrap band, at every point of a curve at once.

    ``values`` has seeds on axis 0 and the points of the curve (episodes, swept values) on axis 1.
    Seeds are resampled jointly across points (one resample is one set of runs). NaN values are
    skipped; a point with no finite value stays NaN; a point from one seed has a zero-width band.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    n = values.shape[0]
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, size=(resamples, n))
    tail = 100.0 * (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = np.nanmean(values, axis=0)
        draws = np.nanmean(values[index], axis=1)  # (resamples, points)
        low, high = np.nanpercentile(draws, [tail, 100.0 - tail], axis=0)
    return mean, low, high
