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


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + P(X = Y) / 2 for one run of X and one of Y drawn at random (rliable's definition).

    The Mann-Whitney U statistic of ``x`` against ``y`` over the product of their sizes; 0.5 for
    identical samples, 1 when every x beats every y. Non-finite values are dropped.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size == 0 or y.size == 0:
        return float("nan")
    greater = (x[:, None] > y[None, :]).mean()
    ties = (x[:, None] == y[None, :]).mean()
    return float(greater + 0.5 * ties)


def probability_of_improvement_ci(
    x: np.ndarray,
    y: np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """Probability of improvement with a stratified percentile-bootstrap interval (x and y apart)."""
    x = np.asarray(x, dtype=float)[np.isfinite(x)]
    y = np.asarray(y, dtype=float)[np.isfinite(y)]
    point = probability_of_improvement(x, y)
    if x.size < 2 or y.size < 2:
        return Estimate(point, point, point)
    rng = np.random.default_rng(seed)
    index_x = np.empty((resamples, x.size), dtype=np.int64)
    index_y = np.empty((resamples, y.size), dtype=np.int64)
    for r in range(resamples):  # the draws of rng.choice(x), rng.choice(y), in the same order
        index_x[r] = rng.integers(0, x.size, x.size)
        index_y[r] = rng.integers(0, y.size, y.size)
    xs, ys = x[index_x][:, :, None], y[index_y][:, None, :]
    draws = (xs > ys).mean(axis=(1, 2)) + 0.5 * (xs == ys).mean(axis=(1, 2))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return Estimate(point, float(low), float(high))


def performance_profile(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Fraction of runs whose score exceeds each threshold (rliable's run-score distribution)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    thresholds = np.asarray(thresholds, dtype=float)
    if values.size == 0:
        return np.full(thresholds.shape, np.nan)
    return (values[None, :] > thresholds[:, None]).mean(axis=1)


def episodes_to_fraction_of_final(
    curve: np.ndarray, *, fraction: float = 0.95, final_window: int = 5, smooth: int = 5
) -> int | None:
    """Episodes until a learning curve settles at ``fraction`` of its final level (1-based count).

    The final level is the mean of the last ``final_window`` episodes. The curve is first smoothed
    by a trailing mean over ``smooth`` episodes (so episode-to-episode noise of a flat curve does
    not count as learning), then the answer is the first episode from which the smoothed curve stays
    at or above the threshold. None if the curve is empty, never settles, or its final level is not
    positive.
    """
    curve = np.asarray(curve, dtype=float)
    if curve.size == 0:
        return None
    final = float(np.nanmean(curve[-final_window:]))
    if not final > 0:
        return None
    window = max(1, int(smooth))
    cumulative = np.concatenate([[0.0], np.cumsum(curve)])
    counts = np.minimum(np.arange(1, curve.size + 1), window)
    smoothed = (cumulative[1:] - cumulative[np.arange(curve.size) + 1 - counts]) / counts
    below = np.flatnonzero(~(smoothed >= fraction * final))
    if below.size == 0:
        return 1
    last_below = int(below[-1])
    if last_below == curve.size - 1:  # still below at the end: never settles
        return None
    return last_below + 2  # the episode after the last one below, counted from 1


def recovery_episodes(
    curve: np.ndarray,
    step_episode: int,
    *,
    fraction: float = 0.95,
    final_window: int = 5,
    smooth: int = 1,
) -> int | None:
    """Episodes after a change at ``step_episode`` until the curve stays at ``fraction`` of its new level."""
    after = np.asarray(curve, dtype=float)[step_episode:]
    reached = episodes_to_fraction_of_final(
        after, fraction=fraction, final_window=final_window, smooth=smooth
    )
    return None if reached is None else reached - 1
