"""Per-seed values of a results file and the bootstrap band of a curve."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from aif_offload.diagnostics.comparison import (
    bootstrap_band,
    curve_jitter,
    final_level,
    per_seed,
    sweep_dim,
)
from aif_offload.diagnostics.statistics import bootstrap_ci


def _data(with_eval: bool) -> xr.Dataset:
    train = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    variables = {"completion_rate": (("agent", "seed", "episode"), train)}
    if with_eval:
        variables["eval_completion_rate"] = (("agent", "seed", "eval_episode"), np.ones((2, 3, 2)))
    return xr.Dataset(variables, coords={"agent": ["a", "b"], "seed": [0, 1, 2]})


def test_per_seed_prefers_held_out_evaluation():
    assert per_seed(_data(True), "completion_rate").values.tolist() == [[1.0] * 3] * 2
    train = per_seed(_data(False), "completion_rate")
    assert train.sel(agent="a").values.tolist() == [1.5, 5.5, 9.5]
    assert per_seed(_data(True), "completion_rate", phase="train").equals(train)
    with pytest.raises(ValueError, match="phase"):
        per_seed(_data(True), "completion_rate", phase="test")


def test_final_level_and_sweep():
    level = final_level(_data(False), "completion_rate", window=2)
    assert level.sel(agent="a").values.tolist() == [2.5, 6.5, 10.5]
    assert sweep_dim(_data(False)) is None


def test_band_matches_the_bootstrap_interval_and_skips_nan():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, (40, 3))
    values[0, 2] = np.nan
    mean, low, high = bootstrap_band(values, resamples=4000)
    ci = bootstrap_ci(values[:, 0], resamples=4000)
    assert mean[0] == pytest.approx(ci.value)
    assert low[0] == pytest.approx(ci.low, abs=0.05) and high[0] == pytest.approx(ci.high, abs=0.05)
    assert np.isfinite(mean[2])
    one = bootstrap_band(np.array([[1.0, 2.0]]))
    assert one[1].tolist() == one[2].tolist() == [1.0, 2.0]


def test_curve_jitter():
    assert curve_jitter([1.0, 2.0, 1.0, 2.0]) == 1.0
    assert np.isnan(curve_jitter([1.0]))
