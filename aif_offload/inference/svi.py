"""Parameter posterior of the latent load model by stochastic variational inference.

``fit_svi`` fits an ``AutoNormal`` guide to stored experience once. ``SviRefitter`` keeps one guide,
one (jit-compiled) ELBO and one parameter-store scope alive across refits, so an agent refitting
once per episode pays the ``JitTrace_ELBO`` compile only once and warm-starts from the last
posterior; the prior of the service speeds is passed as tensors (the previous posterior: assumed-
density filtering across episodes). ``posterior_samples`` draws the global parameters; the planner
uses them as the world models whose disagreement is the epistemic term.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyro
import torch
from pyro.infer import SVI, JitTrace_ELBO, Trace_ELBO
from pyro.infer.autoguide import AutoNormal
from pyro.infer.autoguide.initialization import init_to_median
from pyro.optim import Adam

from aif_offload.models.latent_load_model import LoadData, LoadModelPrior, latent_load_model

GLOBAL_SITES = ("log_speed", "process_noise", "report_noise", "compute_noise")


def _flat_model(
    control,
    server,
    log_nominal_compute,
    log_compute,
    report,
    compute_mask,
    report_mask,
    log_speed_loc,
    log_speed_scale,
    prior,
):
    """The model with tensor arguments only (what ``JitTrace_ELBO`` can trace)."""
    data = LoadData(
        control, server, log_nominal_compute, log_compute, report, compute_mask, report_mask
    )
    prior = replace(prior, log_speed_loc=log_speed_loc, log_speed_scale=log_speed_scale)
    return latent_load_model(data, prior)


def _flat_args(data: LoadData, prior: LoadModelPrior) -> tuple[torch.Tensor, ...]:
    if data.log_compute is None or data.report is None:
        raise ValueError("data: SVI needs observed log_compute and report")
    e, t, s = data.shape
    dtype = data.control.dtype
    ones = torch.ones(e, t, dtype=torch.bool)
    loc = (
        torch.zeros(s, dtype=dtype)
        if prior.log_speed_loc is None
        else torch.as_tensor(prior.log_speed_loc, dtype=dtype)
    )
    scale = torch.as_tensor(prior.log_speed_scale, dtype=dtype).expand(s).clone()
    return (
        data.control,
        data.server,
        data.log_nominal_compute,
        data.log_compute,
        data.report,
        ones if data.compute_mask is None else data.compute_mask,
        ones[..., None].expand(e, t, s) if data.report_mask is None else data.report_mask,
        loc,
        scale,
    )


def _static(prior: LoadModelPrior) -> LoadModelPrior:
    """The hashable part of the prior (the speed prior goes in as tensors)."""
    return replace(prior, log_speed_loc=None, log_speed_scale=1.0)


@dataclass
class SviFit:
    """Result of a fit: losses per step (ELBO loss / number of latent-state entries), the speeds'
    posterior mean and sd, posterior medians of the globals, and ``num_samples`` draws of them."""

    losses: np.ndarray
    log_speed_loc: np.ndarray
    log_speed_scale: np.ndarray
    medians: dict[str, np.ndarray]
    samples: dict[str, np.ndarray]


class SviRefitter:
    """One AutoNormal guide refitted on new data of a fixed shape (one per independent agent row)."""

    def __init__(self, *, lr: float = 0.05, jit: bool = True) -> None:
        self.lr, self.jit = lr, jit
        self._state = None
        self._svi: SVI | None = None
        self._guide: AutoNormal | None = None

    def fit(
        self,
        data: LoadData,
        prior: LoadModelPrior | None = None,
        *,
        steps: int = 300,
        num_samples: int = 8,
        seed: int = 0,
    ) -> SviFit:
        if steps < 1:
            raise ValueError(f"steps: must be >= 1, got {steps}")
        prior = LoadModelPrior() if prior is None else prior
        args, static = _flat_args(data, prior), _static(prior)
        pyro.set_rng_seed(seed)
        with pyro.get_param_store().scope(self._state) as state:
            if self._svi is None:
                self._guide = AutoNormal(_flat_model, init_loc_fn=init_to_median, init_scale=0.05)
                elbo = JitTrace_ELBO(ignore_jit_warnings=True) if self.jit else Trace_ELBO()
                self._svi = SVI(_flat_model, self._guide, Adam({"lr": self.lr}), elbo)
            scale = float(np.prod(data.shape))
            losses = np.array([self._svi.step(*args, prior=static) / scale for _ in range(steps)])
            guide = self._guide
            with torch.no_grad():
                medians = guide.median(*args, prior=static)
                draws: dict[str, list[np.ndarray]] = {k: [] for k in GLOBAL_SITES}
                for _ in range(num_samples):
                    sample = guide(*args, prior=static)
                    for k in GLOBAL_SITES:
                        draws[k].append(sample[k].detach().numpy().copy())
                loc = guide.locs.log_speed.detach().numpy().copy()
                sd = guide.scales.log_speed.detach().numpy().copy()
        self._state = state
        return SviFit(
            losses=losses,
            log_speed_loc=loc,
            log_speed_scale=sd,
            medians={k: medians[k].detach().numpy().copy() for k in GLOBAL_SITES},
            samples={k: np.stack(v) for k, v in draws.items()},
        )

    @property
    def fitted(self) -> bool:
        """Whether ``fit`` has run at least once (there is a guide to draw from)."""
        return self._guide is not None

    def sample_globals(
        self,
        data: LoadData,
        prior: LoadModelPrior | None = None,
        *,
        num_samples: int = 100,
        seed: int = 0,
    ) -> dict[str, np.ndarray]:
        """``num_samples`` draws of the global parameters (``GLOBAL_SITES``) from the current
        guide; ``data`` and ``prior`` must have the shape of the last fit (the guide's latent
        states are sized by it). Does not change the fit."""
        if self._guide is None:
            raise ValueError("sample_globals: the refitter has not been fitted yet")
        if num_samples < 1:
            raise ValueError(f"num_samples: must be >= 1, got {num_samples}")
        prior = LoadModelPrior() if prior is None else prior
        args, static = _flat_args(data, prior), _static(prior)
        pyro.set_rng_seed(seed)
        draws: dict[str, list[np.ndarray]] = {k: [] for k in GLOBAL_SITES}
        with pyro.get_param_store().scope(self._state), torch.no_grad():
            for _ in range(num_samples):
                sample = self._guide(*args, prior=static)
                for k in GLOBAL_SITES:
                    draws[k].append(sample[k].detach().numpy().copy())
        return {k: np.stack(v) for k, v in draws.items()}


def fit_svi(
    data: LoadData,
    prior: LoadModelPrior | None = None,
    *,
    steps: int = 300,
    lr: float = 0.05,
    num_samples: int = 8,
    seed: int = 0,
    jit: bool = False,
) -> SviFit:
    """Fit a fresh AutoNormal guide by SVI (Adam); ``jit=True`` uses ``JitTrace_ELBO``
    (about a second of compile: it pays off for long fits or with ``SviRefitter``)."""
    return SviRefitter(lr=lr, jit=jit).fit(
        data, prior, steps=steps, num_samples=num_samples, seed=seed
    )
