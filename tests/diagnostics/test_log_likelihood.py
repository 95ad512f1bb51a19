"""Pointwise log likelihood of the load model: its terms sum to the model's own log density."""

from __future__ import annotations

import numpy as np
import pyro
import torch
import xarray as xr
from aif_offload.models.latent_load_model import (
    LoadData,
    LoadModelPrior,
    latent_load_model,
    marginal_load_model,
)
from pyro.infer import Predictive

from aif_offload.diagnostics.log_likelihood import (
    compute_terms,
    pointwise_log_likelihood,
    report_terms,
)

E, T, S, D = 2, 12, 3, 5
GLOBALS = ("log_speed", "process_noise", "report_noise", "compute_noise")


def _data_and_draws(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    inputs = LoadData(
        0.05 * torch.randn(E, T, S, generator=g, dtype=torch.float64),
        torch.randint(0, S, (E, T), generator=g),
        torch.log(2.0 + torch.rand(E, T, generator=g, dtype=torch.float64)),
    )
    pyro.set_rng_seed(seed)
    prior = Predictive(latent_load_model, num_samples=D + 1)(inputs)
    mask = torch.rand(E, T, S, generator=g) > 0.2
    compute_mask = torch.rand(E, T, generator=g) > 0.3
    data = LoadData(
        inputs.control,
        inputs.server,
        inputs.log_nominal_compute,
        log_compute=prior["log_compute"][0, ..., 0],
        report=prior["report"][0],
        compute_mask=compute_mask,
        report_mask=mask,
    )
    draws = {k: prior[k][1:].reshape(D, -1).squeeze(-1) for k in GLOBALS}
    return data, draws


def _model_log_density(model, data, prior, draw, site):
    conditioned = pyro.condition(model, data=draw)
    trace = pyro.poutine.trace(conditioned).get_trace(data, prior)
    trace.compute_log_prob()
    return float(trace.nodes[site]["log_prob"].sum())


def test_report_terms_sum_to_the_marginal_models_factor():
    data, draws = _data_and_draws()
    prior = LoadModelPrior(report_delay=2)
    terms = report_terms(data, prior, draws["process_noise"].numpy(), draws["report_noise"].numpy())
    assert np.isfinite(terms).sum() == int(data.report_mask.sum()) * D
    for i in range(D):
        draw = {k: v[i] for k, v in draws.items()}
        exact = _model_log_density(marginal_load_model, data, prior, draw, "report_marginal")
        assert np.isclose(np.nansum(terms[i]), exact, rtol=1e-9)


def test_compute_terms_are_the_models_log_densities():
    data, draws = _data_and_draws(1)
    prior = LoadModelPrior(compute_noise_floor=0.01)
    terms = compute_terms(data, prior, draws["log_speed"].numpy(), draws["compute_noise"].numpy())
    for i in range(D):
        draw = {k: v[i] for k, v in draws.items()}
        exact = _model_log_density(marginal_load_model, data, prior, draw, "log_compute")
        assert np.isclose(np.nansum(terms[i]), exact, rtol=1e-9)


def test_pointwise_group_has_one_entry_per_observation_and_names_them():
    data, draws = _data_and_draws(2)
    posterior = xr.Dataset(
        {k: (("chain", "draw"), v.numpy()[None]) for k, v in draws.items() if k != "log_speed"}
    ).assign(log_speed=(("chain", "draw", "server"), draws["log_speed"].numpy()[None]))
    ll = pointwise_log_likelihood(
        data, LoadModelPrior(), posterior, compute=True, episodes=[7, 8], servers=["a", "b", "c"]
    )
    assert ll["report"].dims == ("chain", "draw", "report_obs")
    assert ll.sizes["report_obs"] == int(data.report_mask.sum())
    assert ll.sizes["compute_obs"] == int(data.compute_mask.sum())
    assert set(ll["report_obs_episode"].values) <= {7, 8}
    assert set(ll["report_obs_server"].values) <= {"a", "b", "c"}
    assert np.isfinite(ll["report"]).all() and np.isfinite(ll["log_compute"]).all()
