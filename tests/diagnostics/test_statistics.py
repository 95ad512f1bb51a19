"""Interval estimates against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from aif_offload.diagnostics.statistics import bootstrap_ci, iqm


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert iqm([1.0, 2.0, 3.0, 100.0]) == pytest.approx(2.5)  # the outlier is trimmed
    assert np.isnan(iqm([np.nan]))


def test_bootstrap_interval_of_the_mean_matches_the_normal_theory_width():
    sample = np.random.default_rng(0).normal(10.0, 2.0, size=400)
    est = bootstrap_ci(sample, resamples=4000)
    assert est.value == pytest.approx(sample.mean())
    expected_half_width = 1.96 * sample.std(ddof=1) / np.sqrt(sample.size)
    assert (est.high - est.low) / 2 == pytest.approx(expected_half_width, rel=0.1)
    assert est.low < 10.0 < est.high


def test_degenerate_samples():
    assert bootstrap_ci([3.0, 3.0, 3.0]).low == 3.0
    one = bootstrap_ci([2.0, np.nan])
    assert (one.value, one.low, one.high) == (2.0, 2.0, 2.0)
    assert np.isnan(bootstrap_ci([np.nan]).value)
    with pytest.raises(ValueError, match="statistic"):
        bootstrap_ci([1.0, 2.0], "median")


def test_iqm_interval_is_robust_to_an_outlier():
    values = np.r_[np.linspace(0.9, 1.1, 19), 50.0]
    assert bootstrap_ci(values, "iqm").high < 1.2 < bootstrap_ci(values, "mean").high
