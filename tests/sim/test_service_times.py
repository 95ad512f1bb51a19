"""True service times against their closed forms: log-normal speeds and noise, the
Ornstein-Uhlenbeck drift's variance and autocorrelation, throttling's share and spell length."""

from __future__ import annotations

import numpy as np
import pytest

from aif_offload.sim.scenario import ServiceConfig
from aif_offload.sim.service_times import draw_service_randoms, service_path


def path(config: ServiceConfig, envs: int, steps: int, gap_s: float, seed: int = 0):
    episode = [np.random.default_rng([seed, e]) for e in range(envs)]
    world = [np.random.default_rng([seed, e, 1]) for e in range(envs)]
    arrival = np.broadcast_to(np.arange(steps) * gap_s, (envs, steps))
    draws = draw_service_randoms(episode, world, steps, 3)
    return service_path(config, draws, arrival)


def test_everything_off_is_the_nominal_speed():
    result = path(ServiceConfig(), envs=4, steps=10, gap_s=1.0)
    np.testing.assert_array_equal(result.speed_factor, 1.0)
    np.testing.assert_array_equal(result.time_factor, 1.0)


def test_server_speed_is_log_normal_with_median_one_and_fixed_within_an_episode():
    result = path(ServiceConfig(speed_sigma=0.3), envs=4000, steps=5, gap_s=1.0)
    log_speed = np.log(result.speed_factor)
    np.testing.assert_array_equal(log_speed, np.broadcast_to(log_speed[:, :1], log_speed.shape))
    assert log_speed[:, 0].mean() == pytest.approx(0.0, abs=0.02)
    assert log_speed[:, 0].std() == pytest.approx(0.3, rel=0.05)


def test_drift_is_a_stationary_ornstein_uhlenbeck_process():
    tau, sigma, gap = 50.0, 0.2, 5.0
    result = path(ServiceConfig(drift_sigma=sigma, drift_time_s=tau), 3000, 40, gap)
    x = np.log(result.speed_factor)[..., 0]
    assert x[:, 0].std() == pytest.approx(sigma, rel=0.05)  # stationary from the start
    assert x[:, -1].std() == pytest.approx(sigma, rel=0.05)
    for lag in (1, 4):
        corr = np.corrcoef(x[:, 10], x[:, 10 + lag])[0, 1]
        assert corr == pytest.approx(np.exp(-lag * gap / tau), abs=0.04)


def test_throttling_share_and_spell_length_are_the_two_state_chains():
    rate, mean_s, gap = 0.02, 10.0, 0.5
    config = ServiceConfig(throttle_per_s=rate, throttle_mean_s=mean_s, throttle_speed=0.25)
    result = path(config, envs=500, steps=2000, gap_s=gap)
    on = result.throttled[..., 0]
    assert on.mean() == pytest.approx(rate / (rate + 1 / mean_s), rel=0.05)
    spells = (on[:, :-1] & ~on[:, 1:]).sum()
    assert on[:, :-1].sum() * gap / spells == pytest.approx(mean_s, rel=0.08)
    np.testing.assert_allclose(result.speed_factor[..., 0][on], 0.25)


def test_task_noise_is_log_normal_on_the_compute_time():
    result = path(ServiceConfig(task_sigma=0.2), envs=2000, steps=20, gap_s=1.0)
    np.testing.assert_array_equal(result.speed_factor, 1.0)
    log_time = np.log(result.time_factor)
    assert log_time.mean() == pytest.approx(0.0, abs=0.01)
    assert log_time.std() == pytest.approx(0.2, rel=0.03)
