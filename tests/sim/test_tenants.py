"""The other tenants' chain against its closed forms: Erlang-loss stationary law, regime shares
proportional to mean dwell times, mean dwell times and occupancy of sampled paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aif_offload.sim.scenario import TenantConfig, TenantRegime
from aif_offload.sim.tenants import (
    draw_tenant_randoms,
    sample_path,
    stationary_distribution,
    stationary_mean_gpus,
    tenant_chain,
)


def config(*regimes: tuple[float, float], mean_job_s: float = 10.0) -> TenantConfig:
    return TenantConfig(
        mean_job_s=mean_job_s,
        regimes=tuple(
            TenantRegime(name=f"r{i}", arrival_per_s=rate, mean_dwell_s=dwell)
            for i, (rate, dwell) in enumerate(regimes)
        ),
    )


def erlang_loss(rho: float, gpus: int) -> np.ndarray:
    weights = np.array([rho**n / math.factorial(n) for n in range(gpus + 1)])
    return weights / weights.sum()


def test_generator_rows_sum_to_zero_and_rates_are_the_configured_ones():
    chain = tenant_chain(config((0.3, 50.0), (0.9, 25.0), mean_job_s=5.0), num_gpus=4)
    q = chain.generator
    np.testing.assert_allclose(q.sum(axis=1), 0.0, atol=1e-12)
    assert q[0, 1] == pytest.approx(0.3)  # regime 0, n = 0 -> 1: arrival rate
    assert q[3, 2] == pytest.approx(3 / 5.0)  # n = 3 -> 2: n / mean job
    assert q[2, 5 + 2] == pytest.approx(1 / 50.0)  # regime 0 -> 1 at n = 2: 1 / dwell
    assert q[4, 5] == 0.0  # no arrival when every GPU is busy


@pytest.mark.parametrize(("rate", "gpus"), [(0.2, 9), (0.8, 9), (2.0, 4)])
def test_one_regime_is_the_erlang_loss_queue(rate, gpus):
    cfg = config((rate, 100.0), mean_job_s=10.0)
    pi = stationary_distribution(tenant_chain(cfg, gpus))
    np.testing.assert_allclose(pi, erlang_loss(rate * 10.0, gpus), atol=1e-10)
    expected_mean = erlang_loss(rate * 10.0, gpus) @ np.arange(gpus + 1)
    assert stationary_mean_gpus(cfg, gpus) == pytest.approx(expected_mean)


def test_regime_shares_are_proportional_to_mean_dwell_times():
    cfg = config((0.05, 60.0), (0.2, 40.0), (0.35, 20.0), mean_job_s=20.0)
    chain = tenant_chain(cfg, 9)
    pi = stationary_distribution(chain).reshape(3, 10)
    np.testing.assert_allclose(pi.sum(axis=1), np.array([60, 40, 20]) / 120, atol=1e-10)


def test_slow_switching_gives_each_regime_its_own_erlang_law():
    cfg = config((0.05, 1e6), (0.4, 1e6), mean_job_s=10.0)
    pi = stationary_distribution(tenant_chain(cfg, 9)).reshape(2, 10)
    for r, rate in enumerate((0.05, 0.4)):
        np.testing.assert_allclose(pi[r] / pi[r].sum(), erlang_loss(rate * 10, 9), atol=1e-4)


def _paths(cfg: TenantConfig, gpus: int, envs: int, steps: int, gap_s: float, seed: int):
    chain = tenant_chain(cfg, gpus)
    rngs = [np.random.default_rng([seed, e]) for e in range(envs)]
    gaps = np.full((envs, steps), gap_s)
    gaps[:, 0] = 0.0
    return chain, sample_path(chain, draw_tenant_randoms(rngs, chain, gaps))


def test_sampled_paths_follow_the_stationary_law():
    cfg = config((0.1, 30.0), (0.5, 15.0), mean_job_s=8.0)
    chain, path = _paths(cfg, 6, envs=400, steps=200, gap_s=2.0, seed=1)
    pi = stationary_distribution(chain)
    empirical = np.bincount(path.ravel(), minlength=chain.size) / path.size
    # 80,000 correlated samples: a few thousand effective ones, so 0.02 is several standard errors.
    np.testing.assert_allclose(empirical, pi, atol=0.02)


def test_sampled_regimes_have_their_mean_dwell_times():
    cfg = config((0.1, 20.0), (0.5, 10.0), (0.3, 5.0), mean_job_s=8.0)
    chain, path = _paths(cfg, 4, envs=300, steps=2000, gap_s=0.05, seed=2)
    regime = chain.regime(path)
    for r, dwell in enumerate((20.0, 10.0, 5.0)):
        time_in = (regime[:, :-1] == r).sum() * 0.05
        leaves = ((regime[:, :-1] == r) & (regime[:, 1:] != r)).sum()
        # Exit rate = leaves / time in regime (a 0.05 s grid misses almost no sojourn).
        assert time_in / leaves == pytest.approx(dwell, rel=0.08)


def test_paths_of_a_row_depend_on_its_generator_only():
    cfg = config((0.3, 20.0), (0.6, 10.0), mean_job_s=5.0)
    chain = tenant_chain(cfg, 5)
    gaps = np.full((3, 50), 0.5)
    alone = sample_path(chain, draw_tenant_randoms([np.random.default_rng(7)], chain, gaps[:1]))
    rngs = [np.random.default_rng(s) for s in (3, 7, 9)]
    batch = sample_path(chain, draw_tenant_randoms(rngs, chain, gaps))
    np.testing.assert_array_equal(alone[0], batch[1])
