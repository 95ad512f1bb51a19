"""Free energy of the expected future (Tschantz et al. 2020) with the paper's rewardless guidance.

Inputs are the predictions of M world models (posterior samples of the parameters, or ensemble
members) for every candidate and horizon step, leading dim M:

- ``p_complete`` (M, ...): probability the task completes (fits the server and meets t_max);
- ``log_latency_mean``, ``log_latency_sd`` (M, ...): Gaussian prediction of log latency;
- ``accuracy`` (...): pass@100 of the chosen tier.

Extrinsic term (risk): the negative expected rewardless guidance of eq. 11 with completion first,
``-(w_c * P(tc) + P(tc) * (E[1/L] + pass@100))``, averaged over models. ``w_c`` (default 10) makes
one more expected completion worth more than any latency/accuracy gain (1/L + pass@100 < 1 here).

Intrinsic term (expected information gain about the parameters): the mutual information between
the outcome and the model index, i.e. the disagreement of the models: for completion, the
Bernoulli ``H(mean_m p_m) - mean_m H(p_m)``; for the log latency, Gaussian moment matching
``0.5 log(mean_m s_m^2 + Var_m mu_m) - mean_m 0.5 log s_m^2``. Both are >= 0 and vanish when the
models agree.

EFE = risk - w_i * information gain, summed over the horizon; lower is better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-9


@dataclass(frozen=True)
class Preferences:
    """Weights of the guidance (completion first) and of the epistemic term."""

    completion_weight: float = 10.0
    info_gain_weight: float = 1.0


@dataclass(frozen=True)
class EfeTerms:
    """Per candidate and horizon step (...): risk, information gain and their combination."""

    risk: np.ndarray
    info_gain: np.ndarray
    efe: np.ndarray


def _bernoulli_entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return -(p * np.log(p) + (1.0 - p) * np.log1p(-p))


def expected_free_energy(
    p_complete: np.ndarray,
    log_latency_mean: np.ndarray,
    log_latency_sd: np.ndarray,
    accuracy: np.ndarray,
    preferences: Preferences = Preferences(),
) -> EfeTerms:
    """EFE terms of every candidate step, averaging/disagreeing over the leading model dim."""
    var = np.maximum(log_latency_sd, 1e-6) ** 2
    inverse_latency = np.exp(-log_latency_mean + 0.5 * var)  # E[1/L], L log-normal
    guidance = p_complete * (preferences.completion_weight + inverse_latency + accuracy)
    risk = -guidance.mean(axis=0)
    gain_completion = _bernoulli_entropy(p_complete.mean(axis=0)) - _bernoulli_entropy(
        p_complete
    ).mean(axis=0)
    mixture_var = var.mean(axis=0) + log_latency_mean.var(axis=0)
    gain_latency = 0.5 * np.log(mixture_var) - 0.5 * np.log(var).mean(axis=0)
    info_gain = np.maximum(gain_completion, 0.0) + np.maximum(gain_latency, 0.0)
    return EfeTerms(
        risk=risk, info_gain=info_gain, efe=risk - preferences.info_gain_weight * info_gain
    )
