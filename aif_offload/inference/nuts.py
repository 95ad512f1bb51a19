"""Offline NUTS fit of the latent load model on a logged trajectory (for R-hat / ESS diagnostics)."""

from __future__ import annotations

import arviz as az
import pyro
from pyro.infer import MCMC, NUTS

from aif_offload.models.latent_load_model import LoadData, LoadModelPrior, latent_load_model


def fit_nuts(
    data: LoadData,
    prior: LoadModelPrior | None = None,
    *,
    num_samples: int = 500,
    warmup_steps: int = 500,
    num_chains: int = 1,
    max_tree_depth: int = 10,
    seed: int = 0,
) -> az.InferenceData:
    """Run NUTS and return the posterior as ArviZ InferenceData (dims named after the plates)."""
    prior = LoadModelPrior() if prior is None else prior
    pyro.set_rng_seed(seed)
    mcmc = MCMC(
        NUTS(latent_load_model, target_accept_prob=0.8, max_tree_depth=max_tree_depth),
        num_samples=num_samples,
        warmup_steps=warmup_steps,
        num_chains=num_chains,
        mp_context="spawn" if num_chains > 1 else None,
        disable_progbar=True,
    )
    mcmc.run(data, prior)
    return az.from_pyro(
        mcmc,
        dims={"log_speed": ["server"], "eps": ["episode", "step", "server"]},
        log_likelihood=False,
    )
