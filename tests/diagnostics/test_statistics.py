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


def test_probability_of_improvement_known_values():
    from aif_offload.diagnostics.statistics import probability_of_improvement

    same = np.array([1.0, 2.0, 3.0])
    assert probability_of_improvement(same, same) == pytest.approx(0.5)
    assert probability_of_improvement([5.0, 6.0], [1.0, 2.0]) == 1.0
    assert probability_of_improvement([1.0, 2.0], [5.0, 6.0]) == 0.0
    # x = (1, 3) vs y = (2): one win, one loss
    assert probability_of_improvement([1.0, 3.0], [2.0]) == pytest.approx(0.5)
    # against scipy's Mann-Whitney U
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(1)
    x, y = rng.normal(0.3, 1, 30), rng.normal(0, 1, 40)
    u = mannwhitneyu(x, y).statistic
    assert probability_of_improvement(x, y) == pytest.approx(u / (30 * 40))


def test_probability_of_improvement_interval():
    from aif_offload.diagnostics.statistics import probability_of_improvement_ci

    rng = np.random.default_rng(2)
    separated = probability_of_improvement_ci(rng.normal(5, 1, 20), rng.normal(0, 1, 20))
    assert separated.value == 1.0 and separated.low > 0.95
    identical = probability_of_improvement_ci(rng.normal(0, 1, 50), rng.normal(0, 1, 50))
    assert identical.low < 0.5 < identical.high


def test_performance_profile():
    from aif_offload.diagnostics.statistics import performance_profile

    profile = performance_profile([0.1, 0.5, 0.9, np.nan], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(profile, [1.0, 1 / 3, 0.0])


def test_episodes_to_fraction_of_final_and_recovery():
    from aif_offload.diagnostics.statistics import episodes_to_fraction_of_final, recovery_episodes

    curve = np.array([0.1, 0.97, 0.5, 0.8, 0.96, 1.0, 1.0, 1.0, 1.0, 1.0])
    # final 0.992 -> threshold 0.9424; the early 0.97 is followed by a dip, so it does not count
    assert episodes_to_fraction_of_final(curve, smooth=1) == 5
    assert episodes_to_fraction_of_final(np.ones(4)) == 1
    assert episodes_to_fraction_of_final(np.zeros(4)) is None
    # A flat but noisy curve (final 1.008, threshold 0.9576): unsmoothed, the dip to 0.92 at
    # episode 5 counts; smoothed over 5 episodes only the start-up mean 0.95 of episode 2 does.
    noisy = np.r_[1.0, 0.9, 1.1, 1.0, 0.92, 1.05, 1.0, 0.97, 1.02, 1.0]
    assert episodes_to_fraction_of_final(noisy, smooth=1) == 6
    assert episodes_to_fraction_of_final(noisy) == 3
    stepped = np.r_[np.ones(5), 0.4, 0.6, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9]
    # after the step at episode 5 the new level is 0.9; it is reached 3 episodes later
    assert recovery_episodes(stepped, 5) == 3
