"""Belief files scored against the truth: perfect beliefs score 0, calibrated intervals cover."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from aif_offload.diagnostics.beliefs import (
    BeliefFile,
    belief_kind,
    discrete_load_scores,
    gaussian_load_scores,
    load_level_summary,
)

az = pytest.importorskip("arviz")


def _write(path, **groups):
    az.InferenceData(**groups, warn_on_custom_groups=False).to_netcdf(path, engine="h5netcdf")
    return path


def test_perfect_discrete_beliefs(tmp_path):
    rng = np.random.default_rng(0)
    level = rng.integers(0, 3, (1, 2, 5, 2))
    level[0, 1] = -1  # no truth in the second episode
    dims = ("seed", "episode", "step", "server")
    path = _write(
        tmp_path / "d.nc",
        filtering=xr.Dataset({"q_load": ((*dims, "level"), np.eye(3)[np.maximum(level, 0)])}),
        constant_data=xr.Dataset({"true_load_level": (dims, level)}),
    )
    assert belief_kind(path) == "discrete"
    scores = discrete_load_scores(BeliefFile(path))
    assert scores["brier"].sel(episode=0).values.tolist() == [0.0, 0.0]
    assert np.isnan(scores["brier"].sel(episode=1).values).all()
    assert scores["steps"].sum() == 10
    summary = load_level_summary(path)
    assert summary["brier"] == 0.0 and summary["brier_uniform"] == pytest.approx(2 / 3)


def test_calibrated_gaussian_beliefs_cover_at_the_nominal_rate(tmp_path):
    rng = np.random.default_rng(1)
    shape = (1, 3, 400, 2)
    dims = ("seed", "episode", "step", "server")
    mean = rng.uniform(0, 1, shape)
    truth = mean + rng.normal(0, 0.1, shape)
    path = _write(
        tmp_path / "g.nc",
        filtering=xr.Dataset({"load_mean": (dims, mean), "load_sd": (dims, np.full(shape, 0.1))}),
        constant_data=xr.Dataset({"true_load": (dims, truth)}),
    )
    assert belief_kind(path) == "gaussian"
    scores = gaussian_load_scores(path)
    assert float(scores["coverage_50"].mean()) == pytest.approx(0.5, abs=0.03)
    assert float(scores["coverage_90"].mean()) == pytest.approx(0.9, abs=0.02)
    # E[CRPS] of a calibrated Gaussian is sd / sqrt(pi)
    assert float(scores["crps"].mean()) == pytest.approx(0.1 / np.sqrt(np.pi), rel=0.05)


def test_files_of_the_older_layout_score_the_same(tmp_path):
    """Per-step beliefs once lived in posterior / sample_stats / predictions, without chain."""
    rng = np.random.default_rng(2)
    dims = ("seed", "episode", "step", "server")
    level = rng.integers(0, 3, (1, 2, 6, 2))
    q = xr.Dataset({"q_load": ((*dims, "level"), rng.dirichlet(np.ones(3), level.shape))})
    stats = xr.Dataset(
        {"q_pi": (("seed", "episode", "step", "policy"), np.full((1, 2, 6, 4), 0.25))}
    )
    truth = xr.Dataset({"true_load_level": (dims, level)})
    new = _write(tmp_path / "new.nc", filtering=q.merge(stats), constant_data=truth)
    old = _write(tmp_path / "old.nc", posterior=q, sample_stats=stats, constant_data=truth)
    assert belief_kind(old) == "discrete"
    xr.testing.assert_identical(discrete_load_scores(new), discrete_load_scores(old))
