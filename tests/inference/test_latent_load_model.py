"""The Pyro latent load model: prior shapes, SVI, parameter recovery, filtering, NUTS."""

from __future__ import annotations

import numpy as np
import pyro
import pytest
import torch
from aif_offload.models.latent_load_model import LoadData, LoadModelPrior, latent_load_model
from pyro.infer import Predictive

from aif_offload.inference.filtering import LoadFilter
from aif_offload.inference.svi import fit_svi

E, T, S = 1, 100, 5
TRUTH = {
    "log_speed": torch.tensor([0.2, -0.1, 0.0, 0.1, -0.2], dtype=torch.float64),
    "process_noise": torch.tensor(0.01, dtype=torch.float64),
    "report_noise": torch.tensor(0.05, dtype=torch.float64),
    "compute_noise": torch.tensor(0.05, dtype=torch.float64),
}


def _inputs(seed: int = 0, episodes: int = E, steps: int = T, servers: int = S) -> LoadData:
    g = torch.Generator().manual_seed(seed)
    control = 0.05 * torch.randn(episodes, steps, servers, generator=g, dtype=torch.float64)
    server = torch.randint(0, servers, (episodes, steps), generator=g)
    log_nominal = torch.log(2.0 + 8.0 * torch.rand(episodes, steps, generator=g)).double()
    return LoadData(control, server, log_nominal)


def _simulate(seed: int = 1) -> tuple[LoadData, torch.Tensor]:
    inputs = _inputs()
    pyro.set_rng_seed(seed)
    trace = pyro.poutine.trace(pyro.condition(latent_load_model, data=TRUTH)).get_trace(inputs)
    data = LoadData(
        inputs.control,
        inputs.server,
        inputs.log_nominal_compute,
        log_compute=trace.nodes["log_compute"]["value"][..., 0],
        report=trace.nodes["report"]["value"],
    )
    return data, trace.nodes["load"]["value"]


def test_prior_predictive_has_declared_shapes():
    pyro.set_rng_seed(0)
    samples = Predictive(latent_load_model, num_samples=6)(_inputs(episodes=2, steps=7))
    assert samples["log_speed"].shape[0] == 6 and samples["log_speed"].shape[-1] == S
    assert samples["process_noise"].numel() == 6
    assert samples["eps"].shape == (6, 2, 7, S)
    assert samples["report"].shape == (6, 2, 7, S)
    assert samples["log_compute"].shape == (6, 2, 7, 1)
    assert samples["load"].shape[-3:] == (2, 7, S)


def test_masked_observations_are_accepted():
    data, _ = _simulate()
    mask = torch.ones(E, T, S, dtype=torch.bool)
    mask[:, :2] = False
    masked = LoadData(
        data.control,
        data.server,
        data.log_nominal_compute,
        data.log_compute,
        data.report,
        compute_mask=torch.ones(E, T, dtype=torch.bool),
        report_mask=mask,
    )
    trace = pyro.poutine.trace(latent_load_model).get_trace(masked)
    assert torch.isfinite(trace.log_prob_sum())


@pytest.fixture(scope="module")
def recovery_fit():
    data, _ = _simulate()
    return fit_svi(data, steps=200, seed=0, jit=True)


def test_svi_lowers_the_loss(recovery_fit):
    losses = recovery_fit.losses
    assert losses[-10:].mean() < losses[:10].mean() - 0.5


def test_svi_recovers_known_parameters(recovery_fit):
    """Tolerances: log speeds within 0.1 (10 % on the speed), report noise within 0.015."""
    fit = recovery_fit
    np.testing.assert_allclose(fit.log_speed_loc, TRUTH["log_speed"].numpy(), atol=0.1)
    assert abs(float(fit.medians["report_noise"]) - 0.05) < 0.015
    assert abs(float(fit.medians["compute_noise"]) - 0.05) < 0.025
    assert fit.samples["log_speed"].shape == (8, S)


def test_prior_on_speeds_moves_the_posterior():
    data, _ = _simulate()
    tight = LoadModelPrior(log_speed_loc=torch.full((S,), 1.0), log_speed_scale=0.001)
    fit = fit_svi(data, tight, steps=40, seed=0, jit=True)
    np.testing.assert_allclose(fit.log_speed_loc, 1.0, atol=0.05)


def test_kalman_filter_tracks_the_simulated_load():
    data, load = _simulate()
    x = load[0].numpy()
    kf = LoadFilter(1, S, delay=2, process_noise=0.01, report_noise=0.05, initial_scale=0.01)
    errors, sds = [], []
    for t in range(T):
        kf.update(data.report[0, t].numpy()[None])
        errors.append(kf.load_mean[0] - x[t])
        sds.append(kf.load_sd[0])
        kf.predict(data.control[0, t].numpy()[None])
    errors, sds = np.array(errors), np.array(sds)
    assert np.sqrt(np.mean(errors**2)) < 0.05  # better than one raw (delayed) report
    assert np.mean(np.abs(errors) < 2 * sds) > 0.85  # roughly calibrated


def test_kalman_filter_follows_known_control_and_skips_masked_reports():
    kf = LoadFilter(2, 3, delay=2, process_noise=1e-4, report_noise=0.05)
    kf.predict(np.array([[0.5, 0.0, 0.0], [0.0, 0.25, 0.0]]))
    np.testing.assert_allclose(kf.load_mean, [[0.5, 0, 0], [0, 0.25, 0]], atol=1e-9)
    before = kf.mean.copy()
    kf.update(np.ones((2, 3)), mask=np.zeros((2, 3), dtype=bool))
    np.testing.assert_array_equal(kf.mean, before)


@pytest.mark.slow
def test_nuts_runs_on_a_short_trajectory():
    from aif_offload.inference.nuts import fit_nuts

    inputs = _inputs(steps=8, servers=2)
    pyro.set_rng_seed(0)
    truth = {"log_speed": torch.tensor([0.1, -0.1], dtype=torch.float64)}
    trace = pyro.poutine.trace(pyro.condition(latent_load_model, data=truth)).get_trace(inputs)
    data = LoadData(
        inputs.control,
        inputs.server,
        inputs.log_nominal_compute,
        log_compute=trace.nodes["log_compute"]["value"][..., 0],
        report=trace.nodes["report"]["value"],
    )
    idata = fit_nuts(data, num_samples=20, warmup_steps=20, max_tree_depth=4, seed=0)
    assert idata.posterior["log_speed"].dims == ("chain", "draw", "server")
    assert idata.posterior["log_speed"].shape == (1, 20, 2)


def test_clipped_reports_of_a_full_server_do_not_bias_the_belief():
    rng = np.random.default_rng(0)
    kf = LoadFilter(1, 2, delay=2, process_noise=0.003, report_noise=0.05)
    kf.predict(np.array([[1.0, 0.0]]))  # server 0 full, server 1 idle, both known exactly
    for _ in range(200):
        kf.update(np.clip(np.array([[1.0, 0.0]]) + 0.05 * rng.standard_normal((1, 2)), 0.0, 1.0))
        kf.predict(np.zeros((1, 2)))
    np.testing.assert_allclose(kf.load_mean[0], [1.0, 0.0], atol=0.012)


def test_predictive_in_parallel_matches_one_draw_at_a_time():
    inputs = _inputs(episodes=2, steps=9)
    pyro.set_rng_seed(3)
    draws = Predictive(latent_load_model, num_samples=4)(inputs)
    sites = ("log_speed", "process_noise", "report_noise", "compute_noise", "eps")
    given = {k: draws[k] for k in sites}
    batched = Predictive(latent_load_model, posterior_samples=given, parallel=True)(inputs)
    assert batched["report"].shape == (4, 2, 9, S)
    assert batched["log_compute"].shape == (4, 2, 9, 1)
    for i in range(4):  # the batch entry, without the broadcast plate dims
        one = {
            k: v[i].reshape(v.shape[-1:] if k == "log_speed" else v.shape[1:])
            for k, v in given.items()
        }
        one |= {k: one[k].reshape(()) for k in sites[1:4]}
        trace = pyro.poutine.trace(pyro.condition(latent_load_model, data=one)).get_trace(inputs)
        load = trace.nodes["load"]["value"]
        torch.testing.assert_close(batched["load"][i].reshape(load.shape), load)


def test_marginal_model_vectorised_over_draws_matches_the_loop():
    from aif_offload.models.latent_load_model import marginal_load_model

    data, _ = _simulate()
    pyro.set_rng_seed(4)
    draws = Predictive(latent_load_model, num_samples=3)(_inputs())
    given = {k: draws[k] for k in ("log_speed", "process_noise", "report_noise", "compute_noise")}
    with pyro.plate("draws", 3, dim=-4):
        trace = pyro.poutine.trace(pyro.condition(marginal_load_model, data=given)).get_trace(data)
    trace.compute_log_prob()
    batched = trace.nodes["report_marginal"]["log_prob"].reshape(3)
    for i in range(3):
        one = {
            k: v[i].reshape(-1) if k == "log_speed" else v[i].reshape(()) for k, v in given.items()
        }
        single = pyro.poutine.trace(pyro.condition(marginal_load_model, data=one)).get_trace(data)
        single.compute_log_prob()
        torch.testing.assert_close(batched[i], single.nodes["report_marginal"]["log_prob"])
