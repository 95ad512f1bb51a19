"""Interval estimates for comparing agents over seeds (the conventions of DESIGN.md).

One value per seed goes in (for example the mean over evaluation episodes); out come the mean and
the interquartile mean with 95 % percentile-bootstrap intervals over seeds. With a single task the
stratified bootstrap of rliable reduces to this ordinary bootstrap over runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


def iqm(values: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50 % (25 % trimmed from each end)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    return float(stats.trim_mean(values, 0.25))


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap_ci(
    values: np.ndarray,
    statistic: str = "mean",
    *,
    confidence: float = 0.95,
    resamples: int = 5000,
    seed: int = 0,
) -> Estimate:
    """Point estimate and percentile-bootstrap interval of ``mean`` or ``iqm`` over seeds.

    Non-finite values (e.g. the latency of a seed that completed nothing) are dropped. With one
    value, or values all equal, the interval collapses to the point.
    """
    if statistic not in ("mean", "iqm"):
        raise ValueError(f"statistic: unknown '{statistic}', allowed: mean, iqm")
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    func = np.mean if statistic == "mean" else iqm
    point = float(func(values))
    if values.size == 1 or np.all(values == values[0]):
        return Estimate(point, point, point)

    def along(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        if statistic == "mean":
            return np.mean(sample, axis=axis)
        return stats.trim_mean(sample, 0.25, axis=axis)

    result = stats.bootstrap(
        (values,),
        along,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
        vectorized=True,
    )
    return Estimate(
        point, float(result.confidence_interval.low), float(result.confidence_interval.high)
    )
