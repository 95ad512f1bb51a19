"""The marginal latent load model equals the full model with the latent loads integrated out."""

from __future__ import annotations

import math

import pyro
import pytest
import torch
from aif_offload.models.latent_load_model import (
    LoadData,
    LoadModelPrior,
    latent_load_model,
    marginal_load_model,
)
from pyro import poutine

E, T, S = 2, 7, 3
GLOBALS = {
    "log_speed": torch.tensor([0.1, -0.2, 0.05], dtype=torch.float64),
    "process_noise": torch.tensor(0.07, dtype=torch.float64),
    "report_noise": torch.tensor(0.2, dtype=torch.float64),
    "compute_noise": torch.tensor(0.1, dtype=torch.float64),
}


def _data(masked: bool) -> LoadData:
    g = torch.Generator().manual_seed(1)
    control = 0.05 * torch.randn(E, T, S, generator=g, dtype=torch.float64)
    server = torch.randint(0, S, (E, T), generator=g)
    log_nominal = torch.randn(E, T, generator=g, dtype=torch.float64)
    report = torch.rand(E, T, S, generator=g, dtype=torch.float64)
    log_compute = log_nominal + 0.1 * torch.randn(E, T, generator=g, dtype=torch.float64)
    report_mask = torch.rand(E, T, S, generator=g) > 0.3 if masked else None
    compute_mask = torch.rand(E, T, generator=g) > 0.2 if masked else None
    return LoadData(control, server, log_nominal, log_compute, report, compute_mask, report_mask)


def _full_marginal(data: LoadData, prior: LoadModelPrior) -> float:
    """log p(observations, globals) of the full model with eps integrated out: the joint is
    Gaussian in eps, so the Laplace formula at the mode is exact."""

    def joint(eps):
        conditioned = poutine.condition(latent_load_model, data={**GLOBALS, "eps": eps})
        return poutine.trace(conditioned).get_trace(data, prior).log_prob_sum()

    zero = torch.zeros(E, T, S, dtype=torch.float64)
    n = E * T * S
    hessian = torch.autograd.functional.hessian(joint, zero).reshape(n, n)
    gradient = torch.autograd.functional.jacobian(joint, zero).reshape(n)
    mode = torch.linalg.solve(-hessian, gradient).reshape(E, T, S)
    return float(joint(mode) + 0.5 * n * math.log(2 * math.pi) - 0.5 * torch.logdet(-hessian))


@pytest.mark.parametrize("masked", [False, True])
def test_marginal_model_is_the_full_model_with_the_loads_integrated_out(masked):
    data, prior = _data(masked), LoadModelPrior(report_delay=2)
    conditioned = poutine.condition(marginal_load_model, data=GLOBALS)
    marginal = float(poutine.trace(conditioned).get_trace(data, prior).log_prob_sum())
    assert marginal == pytest.approx(_full_marginal(data, prior), abs=1e-6)


def test_compute_noise_floor_adds_in_quadrature():
    data = _data(False)
    floor = LoadModelPrior(compute_noise_floor=0.3)

    def compute_scale(prior):
        trace = poutine.trace(poutine.condition(marginal_load_model, data=GLOBALS))
        scale = trace.get_trace(data, prior).nodes["log_compute"]["fn"].scale
        return float(scale.flatten()[0])

    assert compute_scale(LoadModelPrior()) == pytest.approx(0.1)
    assert compute_scale(floor) == pytest.approx(math.hypot(0.1, 0.3))


def test_marginal_model_samples_the_globals_with_the_full_models_shapes():
    pyro.set_rng_seed(0)
    trace = poutine.trace(marginal_load_model).get_trace(_data(True), LoadModelPrior())
    assert trace.nodes["log_speed"]["value"].shape == (S,)
    assert "eps" not in trace.nodes
    assert torch.isfinite(trace.log_prob_sum())
