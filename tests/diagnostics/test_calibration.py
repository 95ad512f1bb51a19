"""Belief scores on hand-made beliefs, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from aif_offload.diagnostics.calibration import (
    brier_score,
    entropy,
    gaussian_crps,
    gaussian_interval_coverage,
    log_score,
    reliability,
)


def test_brier_and_log_scores_by_hand():
    beliefs = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.0, 1.0, 0.0]])
    truth = np.array([0, 0, 2, 2])
    np.testing.assert_allclose(brier_score(beliefs, truth), [0.0, 0.5, 2 / 3, 2.0])
    np.testing.assert_allclose(log_score(beliefs[:3], truth[:3]), [0.0, np.log(2), np.log(3)])
    assert np.isfinite(log_score(beliefs[3:], truth[3:])).all()


def test_entropy():
    np.testing.assert_allclose(
        entropy([[1.0, 0.0], [0.5, 0.5], [0.25, 0.75]]),
        [0.0, np.log(2), stats.entropy([0.25, 0.75])],
    )


def test_reliability_of_a_calibrated_forecaster():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=20_000)
    truth = np.array([rng.choice(3, p=row) for row in p])
    table = reliability(p, truth, bins=5)
    filled = table["count"] > 500
    np.testing.assert_allclose(table["predicted"][filled], table["observed"][filled], atol=0.02)
    assert table["count"].sum() == p.size


def test_interval_coverage_is_nominal_for_the_true_distribution():
    rng = np.random.default_rng(1)
    truth = rng.normal(2.0, 0.5, size=50_000)
    for mass in (0.5, 0.9):
        assert gaussian_interval_coverage(2.0, 0.5, truth, mass).mean() == pytest.approx(
            mass, abs=0.01
        )


def test_crps_matches_numerical_integration():
    mean, std, y = 1.0, 0.7, 1.9
    numeric, _ = integrate.quad(
        lambda x: (stats.norm.cdf(x, mean, std) - (x >= y)) ** 2, -10, 12, points=[y]
    )
    assert gaussian_crps(mean, std, y) == pytest.approx(numeric, rel=1e-6)
    assert gaussian_crps(0.0, 1.0, 0.0) == pytest.approx((np.sqrt(2) - 1) / np.sqrt(np.pi))
