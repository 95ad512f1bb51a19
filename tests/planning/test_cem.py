"""The CEM planner of Algorithm 1 on known toy objectives."""

from __future__ import annotations

import numpy as np
import pytest

from aif_offload.planning.cem import CemConfig, cem_plan


def _quadratic(target: np.ndarray):
    def score(z: np.ndarray) -> np.ndarray:  # (B, J, H, D) -> (B, J)
        return ((z - target[:, None]) ** 2).sum(axis=(-1, -2))

    return score


def test_cem_finds_the_optimum_of_a_quadratic():
    target = np.array([[[1.0, -2.0], [0.5, 3.0]], [[-1.0, 0.0], [2.0, 2.0]]])  # (B=2, H=2, D=2)
    config = CemConfig(iterations=10, candidates=200, top_k=20, horizon=2)
    rngs = [np.random.default_rng(s) for s in (0, 1)]
    result = cem_plan(
        _quadratic(target), np.zeros_like(target), rngs, config, std=np.full_like(target, 2.0)
    )
    np.testing.assert_allclose(result.mean, target, atol=0.1)
    np.testing.assert_allclose(result.best, target, atol=0.3)
    assert np.all(result.best_score < 0.3)


def test_same_seed_same_plan_and_rows_are_independent():
    target = np.ones((2, 3, 2))
    config = CemConfig()
    plans = [
        cem_plan(
            _quadratic(target),
            np.zeros_like(target),
            [np.random.default_rng(s) for s in (5, 6)],
            config,
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(plans[0].mean, plans[1].mean)
    alone = cem_plan(
        _quadratic(target[1:]), np.zeros_like(target[1:]), [np.random.default_rng(6)], config
    )
    np.testing.assert_array_equal(alone.mean[0], plans[0].mean[1])


def test_cem_config_rejects_bad_values():
    with pytest.raises(ValueError, match="top_k"):
        CemConfig(candidates=4, top_k=8)
    with pytest.raises(ValueError, match="iterations"):
        CemConfig(iterations=0)
