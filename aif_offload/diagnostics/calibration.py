"""Scores of beliefs against the truth the simulator knows (proper scoring rules, reliability).

Discrete beliefs: Brier and log scores of a distribution over levels against the true level,
entropy, and a reliability table. Continuous beliefs (Gaussian): coverage of central credible
intervals and the closed-form CRPS. Every function broadcasts over leading dims, so it applies to
whole xarray arrays of (seed, episode, step, server).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def brier_score(probabilities: np.ndarray, true_level: np.ndarray) -> np.ndarray:
    """Sum over levels of (p_k - [k = truth])^2; 0 is perfect, 2 is confidently wrong."""
    p = np.asarray(probabilities, dtype=float)
    onehot = np.arange(p.shape[-1]) == np.asarray(true_level)[..., None]
    return ((p - onehot) ** 2).sum(axis=-1)


def log_score(
    probabilities: np.ndarray, true_level: np.ndarray, *, floor: float = 1e-12
) -> np.ndarray:
    """-log p(true level) in nats (lower is better); probabilities are floored to stay finite."""
    p = np.asarray(probabilities, dtype=float)
    chosen = np.take_along_axis(p, np.asarray(true_level)[..., None].astype(int), axis=-1)[..., 0]
    return -np.log(np.maximum(chosen, floor))


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats of distributions over the last axis."""
    p = np.asarray(probabilities, dtype=float)
    return -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)).sum(axis=-1)


def reliability(
    probabilities: np.ndarray, true_level: np.ndarray, *, bins: int = 10
) -> dict[str, np.ndarray]:
    """Reliability table pooled over levels: per bin of predicted probability, the mean prediction,
    the observed frequency of the event and the count (a calibrated belief has them equal)."""
    p = np.asarray(probabilities, dtype=float)
    hit = (np.arange(p.shape[-1]) == np.asarray(true_level)[..., None]).astype(float)
    p, hit = p.reshape(-1), hit.reshape(-1)
    index = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins).astype(float)
    with np.errstate(invalid="ignore"):
        predicted = np.bincount(index, weights=p, minlength=bins) / count
        observed = np.bincount(index, weights=hit, minlength=bins) / count
    return {
        "bin_low": np.arange(bins) / bins,
        "predicted": predicted,
        "observed": observed,
        "count": count,
    }


def gaussian_interval_coverage(
    mean: np.ndarray, std: np.ndarray, truth: np.ndarray, mass: float
) -> np.ndarray:
    """1 where the truth lies in the central ``mass`` interval of N(mean, std^2), else 0."""
    half = stats.norm.ppf(0.5 + mass / 2.0) * np.asarray(std, dtype=float)
    return (np.abs(np.asarray(truth, dtype=float) - mean) <= half).astype(float)


def gaussian_crps(mean: np.ndarray, std: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Continuous ranked probability score of N(mean, std^2) at ``truth`` (Gneiting & Raftery 2007)."""
    std = np.asarray(std, dtype=float)
    z = (np.asarray(truth, dtype=float) - mean) / std
    return std * (
        z * (2.0 * stats.norm.cdf(z) - 1.0) + 2.0 * stats.norm.pdf(z) - 1.0 / np.sqrt(np.pi)
    )
