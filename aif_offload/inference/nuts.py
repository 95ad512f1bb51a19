"""Offline NUTS fit of the latent load model on a logged trajectory (for R-hat / ESS diagnostics).

``model`` is ``latent_load_model`` (every latent load sampled: E x T x S + 8 dimensions) or
``marginal_load_model`` (the loads integrated out exactly: 8 dimensions, far faster to sample; see
``aif_offload.diagnostics.posterior``). Chains run in parallel processes (``spawn``) or one after
the other in this process (``chain_method="sequential"``; on a machine with fewer free cores than
chains that is as fast and avoids a process start-up per chain).
"""

from __future__ import annotations

from collections.abc import Callable

import arviz as az
import pyro
from pyro.infer import MCMC, NUTS

from aif_offload.models.latent_load_model import (
    SITE_DIMS,
    LoadData,
    LoadModelPrior,
    latent_load_model,
)

CHAIN_METHODS = ("parallel", "sequential")


def fit_nuts(
    data: LoadData,
    prior: LoadModelPrior | None = None,
    *,
    num_samples: int = 500,
    warmup_steps: int = 500,
    num_chains: int = 1,
    max_tree_depth: int = 10,
    seed: int = 0,
    model: Callable[..., object] = latent_load_model,
    target_accept_prob: float = 0.8,
    jit_compile: bool = False,
    chain_method: str = "parallel",
    on_chain: Callable[[int], None] | None = None,
) -> az.InferenceData:
    """Run NUTS and return the posterior as ArviZ InferenceData (dims named after the plates);
    ``sample_stats`` holds ``diverging`` per chain and draw. ``on_chain(k)`` is called as chain
    ``k`` finishes (all at once when they run in parallel)."""
    if chain_method not in CHAIN_METHODS:
        raise ValueError(
            f"chain_method: must be one of {', '.join(CHAIN_METHODS)}, got '{chain_method}'"
        )
    if num_chains < 1:
        raise ValueError(f"num_chains: must be >= 1, got {num_chains}")
    prior = LoadModelPrior() if prior is None else prior
    sequential = chain_method == "sequential" and num_chains > 1
    runs = []
    for chain in range(num_chains if sequential else 1):
        pyro.set_rng_seed(seed + chain)
        mcmc = MCMC(
            NUTS(
                model,
                target_accept_prob=target_accept_prob,
                max_tree_depth=max_tree_depth,
                jit_compile=jit_compile,
                ignore_jit_warnings=jit_compile,
            ),
            num_samples=num_samples,
            warmup_steps=warmup_steps,
            num_chains=1 if sequential else num_chains,
            mp_context="spawn" if num_chains > 1 and not sequential else None,
            disable_progbar=True,
        )
        mcmc.run(data, prior)
        sites = ("log_speed", "eps") if model is latent_load_model else ("log_speed",)
        dims = {k: SITE_DIMS[k] for k in sites}
        runs.append(az.from_pyro(mcmc, dims=dims, log_likelihood=False))
        if on_chain is not None:
            for k in range(chain, chain + 1) if sequential else range(num_chains):
                on_chain(k)
    if len(runs) == 1:
        return runs[0]
    return az.concat(*runs, dim="chain")
