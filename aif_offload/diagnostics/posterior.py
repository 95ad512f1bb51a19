"""Posterior checks of the latent load model: offline NUTS fits and posterior predictive checks.

``nuts_check`` reads one ``aif-pyro`` belief file (``runs/aif-pyro/.../seed=N.beliefs.nc``),
rebuilds the model's inputs for one seed's last training episode from it alone, fits the model
by NUTS (several chains) and writes ``seed=N.nuts.nc`` next to it: ArviZ InferenceData with

- ``posterior``: ``log_speed`` (chain, draw, server), ``process_noise``, ``report_noise``,
  ``compute_noise`` (chain, draw);
- ``sample_stats``: ``diverging`` (chain, draw);
- ``log_likelihood``: pointwise log likelihood of every observation the fit used, under every
  draw (``report`` (chain, draw, report_obs), ``log_compute`` (chain, draw, compute_obs) when the
  compute times were used; see ``aif_offload.diagnostics.log_likelihood``), for ``az.loo``;
- ``posterior_predictive``: ``log_compute`` (chain, draw, seed, episode, step; NaN where the
  episode has no observation) and ``report`` (chain, draw, seed, episode, step, server),
  replicated with new latent loads under an evenly thinned subset of the posterior draws
  (``NutsSettings.ppc_draws``, default 500; its ``draw`` coordinate names the draws used),
  reports clipped to [0, 1] as the environment clips them;
- ``observed_data``: ``log_compute`` and ``report`` of that episode (same dims, seed and episode
  of length 1);
- ``constant_data``: the model's inputs, masks, true load and the prior the fit used;

every group carrying ``inference_method = "nuts"``, ``draws_are = "mcmc"`` (``log_speed`` and
``compute_noise`` are prior draws when the compute times are left out, see below), the belief
file's provenance attrs and ``beliefs_file``, ``checked_seed``, ``checked_episode``,
``nuts_settings`` (JSON), ``nuts_seconds`` and ``compute_observations`` (the groups of draws; the
data groups carry the provenance). ``nuts_summary`` gives ``az.summary`` of the main parameters
and the divergences; ``aif_offload.diagnostics.ppc.ppc_checks`` the predictive check numbers of
either file (Bayesian p-values of the mean and sd of the observations and of their residuals
from the known part of the model, and the coverage of central 50 / 90 % predictive intervals).

By default NUTS runs on ``marginal_load_model``: the same model with the latent loads
integrated out exactly (they are linear-Gaussian), 8 dimensions instead of 8 + E x T x S; the
full model (``model="full"``) gives the same posterior of the parameters at far higher cost.
Compute-time observations without any noise (the embedded scenarios: the simulator's compute time
is the nominal one) make the posterior of ``compute_noise`` improper; they are then left out
(``compute="auto"``), NUTS samples ``process_noise`` and ``report_noise``, and ``log_speed`` and
``compute_noise`` are drawn independently from their prior (nothing else informs them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import NamedTuple

import arviz as az
import numpy as np
import pandas as pd
import pyro
import torch
import xarray as xr
from pyro import poutine
from pyro.infer import Predictive

from aif_offload.diagnostics.log_likelihood import pointwise_log_likelihood
from aif_offload.experiment.storage import stamp, write_atomic
from aif_offload.inference.nuts import fit_nuts
from aif_offload.models.latent_load_model import (
    LoadData,
    LoadModelPrior,
    latent_load_model,
    marginal_load_model,
)

MAIN_PARAMETERS = ("log_speed", "process_noise", "report_noise", "compute_noise")
OBSERVED = ("log_compute", "report")
BELIEFS_SUFFIX = ".beliefs.nc"
NUTS_SUFFIX = ".nuts.nc"
PRIORS = ("agent", "initial")
MODELS = ("marginal", "full")
COMPUTE = ("auto", "use", "drop")
_GROUPS = ("observed_data", "constant_data", "posterior_predictive", "posterior")


@dataclass(frozen=True)
class NutsSettings:
    """Settings of an offline NUTS check (the defaults are the measured ones, docs/models.md)."""

    chains: int = 4  # R-hat needs >= 2
    warmup: int = 300  # warmup (adaptation) iterations per chain
    samples: int = 500  # kept draws per chain
    max_tree_depth: int = 8
    target_accept: float = 0.9
    chain_method: str = "sequential"  # or "parallel": one spawned process per chain
    seed: int = 0
    prior: str = "agent"  # "agent": the prior of the agent's refit of that episode; "initial"
    model: str = "marginal"  # "marginal" (loads integrated out) or "full" (every load sampled)
    compute_noise_floor: float = 0.0  # added in quadrature to s (see LoadModelPrior)
    # the compute-time observations: "use", "drop", or "auto": drop them when they carry no noise
    # (every server's residual from the nominal time is constant: the posterior of s is improper)
    compute: str = "auto"
    jit: bool = True  # compile the potential (a few seconds per chain; pays off beyond ~100 draws)
    ppc_draws: int = 500  # posterior draws replicated for the predictive check (thinned evenly)

    def __post_init__(self) -> None:
        for name in ("chains", "warmup", "samples", "max_tree_depth", "ppc_draws"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.target_accept < 1.0:
            raise ValueError(f"target_accept: must be in (0, 1), got {self.target_accept}")
        if self.prior not in PRIORS:
            raise ValueError(f"prior: must be one of {', '.join(PRIORS)}, got '{self.prior}'")
        if self.model not in MODELS:
            raise ValueError(f"model: must be one of {', '.join(MODELS)}, got '{self.model}'")
        if self.compute not in COMPUTE:
            raise ValueError(f"compute: must be one of {', '.join(COMPUTE)}, got '{self.compute}'")
        if self.compute_noise_floor < 0:
            raise ValueError(f"compute_noise_floor: must be >= 0, got {self.compute_noise_floor}")


class NutsSummary(NamedTuple):
    """``az.summary`` rows of the main parameters and the fit's size and divergences."""

    table: pd.DataFrame
    divergences: int
    chains: int
    draws: int


def nuts_path(beliefs_path: Path) -> Path:
    """``.../seed=0.beliefs.nc`` -> ``.../seed=0.nuts.nc``."""
    path = Path(beliefs_path)
    if not path.name.endswith(BELIEFS_SUFFIX):
        raise ValueError(f"beliefs_path: expected a '*{BELIEFS_SUFFIX}' file, got '{path.name}'")
    return path.with_name(path.name[: -len(BELIEFS_SUFFIX)] + NUTS_SUFFIX)


def load_groups(path: Path) -> dict[str, xr.Dataset]:
    """The groups of a belief or NUTS file that the checks read, loaded into memory."""
    groups = {}
    for group in _GROUPS:
        try:
            groups[group] = xr.open_dataset(path, group=group, engine="h5netcdf").load()
        except OSError:
            continue
    missing = {"observed_data", "constant_data"} - set(groups)
    if missing or "log_compute" not in groups["observed_data"]:
        raise ValueError(
            f"{path}: not an aif-pyro belief file with observations "
            f"(needs groups observed_data and constant_data with log_compute)"
        )
    return groups


def _provenance(path: Path) -> dict[str, str]:
    with xr.open_dataset(path, group="constant_data", engine="h5netcdf") as data:
        return {k: v for k, v in data.attrs.items() if isinstance(v, str)}


def select_episode(
    groups: dict[str, xr.Dataset], *, seed: int | None = None, episode: int | None = None
) -> tuple[int, int]:
    """The seed (default: the first in the file) and episode (default: the last training
    episode) to check; ``ValueError`` naming the option if they are not in the file."""
    constant = groups["constant_data"]
    seeds = [int(s) for s in constant["seed"].values]
    if seed is None:
        seed = seeds[0]
    elif seed not in seeds:
        raise ValueError(f"--seed: {seed} is not in the file (seeds {seeds})")
    if episode is None:
        phase = constant["phase"].values if "phase" in constant.coords else None
        train = np.flatnonzero(phase == "train") if phase is not None else []
        if len(train) == 0:
            raise ValueError("episode: the file has no training episode")
        episode = int(constant["episode"].values[train[-1]])
    elif episode not in constant["episode"].values:
        raise ValueError(f"episode: {episode} is not in the file")
    return seed, episode


def episode_data(
    groups: dict[str, xr.Dataset],
    seed: int,
    episode: int,
    *,
    prior: str = "agent",
    compute_noise_floor: float = 0.0,
) -> tuple[LoadData, LoadModelPrior]:
    """``LoadData`` (one episode) and ``LoadModelPrior`` rebuilt from a belief file's groups.

    ``prior="agent"``: the prior of the agent's refit of that episode (the previous posterior of
    the log speeds); ``"initial"``: the agent's first prior (that of episode 0).
    """
    if prior not in PRIORS:
        raise ValueError(f"prior: must be one of {', '.join(PRIORS)}, got '{prior}'")
    at = {"seed": seed, "episode": [episode]}
    constant = groups["constant_data"].sel(at)
    observed = groups["observed_data"].sel(at)

    def tensor(values, dtype=torch.float64):
        return torch.as_tensor(np.asarray(values), dtype=dtype)

    compute_mask = tensor(constant["compute_mask"].values.astype(bool), torch.bool)
    data = LoadData(
        control=tensor(constant["control"].values),
        server=tensor(constant["server_index"].values, torch.long),
        log_nominal_compute=tensor(constant["log_nominal_compute"].values),
        log_compute=tensor(np.nan_to_num(observed["log_compute"].values, nan=0.0)),
        report=tensor(observed["report"].values),
        compute_mask=compute_mask,
        report_mask=tensor(constant["report_mask"].values.astype(bool), torch.bool),
    )
    source = constant if prior == "agent" else groups["constant_data"].sel(seed=seed, episode=[0])
    model_prior = LoadModelPrior(
        log_speed_loc=tensor(source["prior_log_speed_loc"].values[0]),
        log_speed_scale=tensor(source["prior_log_speed_scale"].values[0]),
        process_noise_scale=float(constant["prior_process_noise_scale"]),
        report_noise_scale=float(constant["prior_report_noise_scale"]),
        compute_noise_scale=float(constant["prior_compute_noise_scale"]),
        initial_scale=float(constant["prior_initial_scale"]),
        report_delay=int(constant["report_delay"]),
        compute_noise_floor=compute_noise_floor,
    )
    return data, model_prior


def replicate(
    data: LoadData, prior: LoadModelPrior, draws: dict[str, np.ndarray], *, seed: int = 0
) -> dict[str, np.ndarray]:
    """Observations replicated under each draw of the globals (N, ...) with new latent loads:
    ``log_compute`` (N, E, T), NaN where ``compute_mask`` is False, and ``report`` (N, E, T, S)
    clipped to [0, 1] as the environment clips it."""
    n = len(draws["log_speed"])
    inputs = LoadData(
        data.control,
        data.server,
        data.log_nominal_compute,
        compute_mask=data.compute_mask,
        report_mask=data.report_mask,
    )
    predictive = Predictive(
        latent_load_model,
        posterior_samples={k: torch.as_tensor(draws[k]) for k in MAIN_PARAMETERS},
        return_sites=OBSERVED,
    )
    pyro.set_rng_seed(seed)
    out = predictive(inputs, prior)
    e, t, s = data.shape
    log_compute = out["log_compute"].reshape(n, e, t).numpy()
    if data.compute_mask is not None:
        log_compute = np.where(data.compute_mask.numpy(), log_compute, np.nan)
    report = np.clip(out["report"].reshape(n, e, t, s).numpy(), 0.0, 1.0)
    return {"log_compute": log_compute.astype(np.float32), "report": report.astype(np.float32)}


def noise_free_compute(data: LoadData, *, tolerance: float = 1e-9) -> bool:
    """Whether every server's observed log compute residual (from the nominal time) is constant:
    then the likelihood is unbounded as ``s -> 0`` (with the log speeds at those constants) and
    the posterior of ``compute_noise`` is improper; no sampler can converge on it."""
    if data.log_compute is None:
        return False
    mask = torch.ones_like(data.server, dtype=torch.bool)
    if data.compute_mask is not None:
        mask = data.compute_mask
    residual = (data.log_compute - data.log_nominal_compute)[mask]
    server = data.server[mask]
    if residual.numel() == 0:
        return False
    for j in torch.unique(server):
        values = residual[server == j]
        if float(values.max() - values.min()) > tolerance:
            return False
    return True


def _compute_choice(data: LoadData, settings: NutsSettings) -> tuple[LoadData, str]:
    """Apply ``settings.compute``; returns the data to fit and what was done, for the attrs."""
    drop = settings.compute == "drop"
    note = "dropped (--compute drop)"
    if settings.compute == "auto" and noise_free_compute(data):
        drop = True
        note = (
            "dropped: noise-free (every server's log compute time equals its nominal time plus a"
            " constant, so the posterior of compute_noise is improper)"
        )
    if not drop:
        return data, "used"
    note += "; log_speed and compute_noise are independent draws from their prior"
    return replace(data, compute_mask=torch.zeros_like(data.server, dtype=torch.bool)), note


def _prior_draws(prior: LoadModelPrior, chains: int, draws: int, key: list[int]) -> xr.Dataset:
    """Independent draws of ``log_speed`` and ``compute_noise`` from their prior (what their
    posterior is when no compute-time observation is used)."""
    rng = np.random.default_rng([*key, 104_729])
    loc = np.asarray(prior.log_speed_loc, float)
    scale = np.broadcast_to(np.asarray(prior.log_speed_scale, float), loc.shape)
    speed = rng.normal(loc, scale, (chains, draws, loc.size))
    noise = np.abs(rng.normal(0.0, prior.compute_noise_scale, (chains, draws)))
    return xr.Dataset(
        {
            "log_speed": (("chain", "draw", "server"), speed),
            "compute_noise": (("chain", "draw"), noise),
        },
        coords={"chain": np.arange(chains), "draw": np.arange(draws)},
    )


def nuts_fit(
    data: LoadData,
    prior: LoadModelPrior,
    settings: NutsSettings = NutsSettings(),
    *,
    key: int = 0,
    on_chain: Callable[[int], None] | None = None,
    episodes: list[int] | None = None,
    servers: list[str] | None = None,
) -> az.InferenceData:
    """NUTS posterior of the globals (``posterior``, ``sample_stats``, ``log_likelihood`` of the
    observations the fit used, labelled by ``episodes`` and ``servers``) and the replicated
    observations (``posterior_predictive``: ``log_compute`` (chain, draw, episode, step),
    ``report`` (chain, draw, episode, step, server)) under an evenly thinned subset of about
    ``settings.ppc_draws`` draws (its ``draw`` coordinate names the posterior draws used); attrs
    hold the wall time in seconds (``nuts_seconds``) and whether the compute-time observations
    were used (``compute_observations``, see ``NutsSettings.compute``). ``key`` varies the
    random streams between checked episodes."""
    fitted, compute_note = _compute_choice(data, settings)
    model = marginal_load_model if settings.model == "marginal" else latent_load_model
    used = compute_note == "used"
    if not used:  # nothing informs them: NUTS samples q, r (and the loads) only
        dtype = data.control.dtype
        fixed = {
            "log_speed": torch.as_tensor(prior.log_speed_loc, dtype=dtype),
            "compute_noise": torch.tensor(prior.compute_noise_scale, dtype=dtype),
        }
        model = poutine.condition(model, data=fixed)
    start = time.perf_counter()
    fit = fit_nuts(
        fitted,
        prior,
        num_samples=settings.samples,
        warmup_steps=settings.warmup,
        num_chains=settings.chains,
        max_tree_depth=settings.max_tree_depth,
        seed=settings.seed,
        model=model,
        target_accept_prob=settings.target_accept,
        jit_compile=settings.jit,
        chain_method=settings.chain_method,
        on_chain=on_chain,
    )
    seconds = time.perf_counter() - start
    chains, draws = fit.posterior.sizes["chain"], fit.posterior.sizes["draw"]
    posterior = fit.posterior
    if not used:
        posterior = posterior.merge(_prior_draws(prior, chains, draws, [settings.seed, key]))
    posterior = posterior[list(MAIN_PARAMETERS)]
    log_likelihood = pointwise_log_likelihood(
        fitted, prior, posterior, compute=used, episodes=episodes, servers=servers
    )
    # Replicate an evenly thinned subset of the draws (the file stays a few MB).
    step = max(1, -(-chains * draws // settings.ppc_draws))
    thinned = posterior.isel(draw=slice(None, None, step))
    kept = thinned.sizes["draw"]
    flat = {
        k: thinned[k].values.reshape(chains * kept, *thinned[k].shape[2:]) for k in MAIN_PARAMETERS
    }
    replicas = replicate(data, prior, flat, seed=(settings.seed * 7919 + key) % (2**31))
    dims = {"log_compute": ("episode", "step"), "report": ("episode", "step", "server")}
    predictive = xr.Dataset(
        {
            k: (("chain", "draw", *dims[k]), v.reshape(chains, kept, *v.shape[1:]))
            for k, v in replicas.items()
        },
        coords={"chain": thinned["chain"].values, "draw": thinned["draw"].values},
    )
    idata = az.InferenceData(
        posterior=posterior,
        sample_stats=fit.sample_stats[["diverging"]],
        posterior_predictive=predictive,
        log_likelihood=log_likelihood,
    )
    for group in idata.groups():
        idata[group].attrs["nuts_seconds"] = round(seconds, 2)
        idata[group].attrs["compute_observations"] = compute_note
        idata[group].attrs.update({"inference_method": "nuts", "draws_are": "mcmc"})
    return idata


def nuts_idata(
    groups: dict[str, xr.Dataset],
    settings: NutsSettings = NutsSettings(),
    *,
    seed: int | None = None,
    episode: int | None = None,
    on_chain: Callable[[int], None] | None = None,
) -> az.InferenceData:
    """The content of a ``.nuts.nc`` file: NUTS fit of one seed's episode (default: the first
    seed, the last training episode) of a belief file's ``groups``, with its observations,
    inputs and replicated observations; attrs say what was fitted and how."""
    seed, episode = select_episode(groups, seed=seed, episode=episode)
    data, prior = episode_data(
        groups,
        seed,
        episode,
        prior=settings.prior,
        compute_noise_floor=settings.compute_noise_floor,
    )
    at = {"seed": [seed], "episode": [episode]}
    observed = groups["observed_data"].sel(at)
    fit = nuts_fit(
        data,
        prior,
        settings,
        key=seed * 1_000 + episode,
        on_chain=on_chain,
        episodes=[episode],
        servers=[str(s) for s in observed["server"].values],
    )
    in_file = ("seed", "episode", "server")
    constant = (
        groups["constant_data"]
        .sel(at)
        .assign(
            prior_log_speed_loc=(in_file, prior.log_speed_loc.numpy()[None, None]),
            prior_log_speed_scale=(in_file, prior.log_speed_scale.numpy()[None, None]),
            prior_compute_noise_floor=prior.compute_noise_floor,
        )
    )
    predictive = fit.posterior_predictive.expand_dims(seed=[seed]).transpose(
        "chain", "draw", "seed", ...
    )
    predictive = predictive.assign_coords(
        episode=[episode], step=observed["step"].values, server=observed["server"].values
    )
    if "phase" in observed.coords:
        predictive = predictive.assign_coords(phase=("episode", observed["phase"].values))
    idata = az.InferenceData(
        posterior=fit.posterior.assign_coords(server=observed["server"].values),
        sample_stats=fit.sample_stats,
        posterior_predictive=predictive,
        log_likelihood=fit.log_likelihood,
        observed_data=observed,
        constant_data=constant,
    )
    attrs = {
        "nuts_settings": json.dumps(asdict(settings)),
        "nuts_seconds": str(fit.posterior.attrs["nuts_seconds"]),
        "checked_seed": str(seed),
        "checked_episode": str(episode),
        "compute_observations": fit.posterior.attrs["compute_observations"],
    }
    return stamp(idata, attrs)


def nuts_check(
    beliefs_path: Path,
    settings: NutsSettings = NutsSettings(),
    *,
    seed: int | None = None,
    episode: int | None = None,
    out: Path | None = None,
    on_chain: Callable[[int], None] | None = None,
) -> Path:
    """Fit one seed's last training episode of a belief file by NUTS and write the result
    (``nuts_path(beliefs_path)`` unless ``out``) atomically, with the belief file's provenance
    attrs; returns the path written. ``on_chain(k)`` is called as chain ``k`` finishes."""
    beliefs_path = Path(beliefs_path)
    target = nuts_path(beliefs_path) if out is None else Path(out)
    groups = load_groups(beliefs_path)
    idata = nuts_idata(groups, settings, seed=seed, episode=episode, on_chain=on_chain)
    attrs = _provenance(beliefs_path) | {"beliefs_file": beliefs_path.name}
    write_atomic(stamp(idata, attrs), target)
    return target


def episode_groups(
    data: LoadData,
    prior: LoadModelPrior,
    *,
    seed: int = 0,
    servers: list[str] | None = None,
) -> dict[str, xr.Dataset]:
    """``observed_data`` and ``constant_data`` in the belief file's layout for any ``LoadData``
    (e.g. simulated from the model), all episodes marked ``train``: the inverse of
    ``episode_data``, so that ``nuts_idata`` and ``ppc.ppc_checks`` run on it."""
    e, t, s = data.shape
    servers = [str(j) for j in range(s)] if servers is None else servers
    coords = {
        "seed": [seed],
        "episode": np.arange(e),
        "step": np.arange(t),
        "server": servers,
        "phase": ("episode", np.full(e, "train")),
    }
    est, ests = ("seed", "episode", "step"), ("seed", "episode", "step", "server")
    compute_mask = np.ones((e, t), bool) if data.compute_mask is None else data.compute_mask.numpy()
    report_mask = np.ones((e, t, s), bool) if data.report_mask is None else data.report_mask
    log_compute = np.where(compute_mask, data.log_compute.numpy(), np.nan)
    loc = torch.zeros(s) if prior.log_speed_loc is None else prior.log_speed_loc
    scale = torch.as_tensor(prior.log_speed_scale, dtype=torch.float64).expand(s)
    observed = xr.Dataset(
        {"log_compute": (est, log_compute[None]), "report": (ests, data.report.numpy()[None])},
        coords=coords,
    )
    per_episode = np.ones((1, e, 1))
    constant = xr.Dataset(
        {
            "control": (ests, data.control.numpy()[None]),
            "server_index": (est, data.server.numpy()[None]),
            "log_nominal_compute": (est, data.log_nominal_compute.numpy()[None]),
            "compute_mask": (est, compute_mask[None]),
            "report_mask": (ests, np.asarray(report_mask)[None]),
            "prior_log_speed_loc": (
                ("seed", "episode", "server"),
                per_episode * np.asarray(loc, float),
            ),
            "prior_log_speed_scale": (
                ("seed", "episode", "server"),
                per_episode * scale.numpy(),
            ),
            **prior.scalar_constants(),
        },
        coords=coords,
    )
    return {"observed_data": observed, "constant_data": constant}


def nuts_summary(idata: az.InferenceData) -> NutsSummary:
    """``az.summary`` (mean, sd, HDI, MCSE, ``ess_bulk``, ``ess_tail``, ``r_hat``) of the main
    parameters and the number of divergent transitions."""
    present = [k for k in MAIN_PARAMETERS if k in idata.posterior]
    table = az.summary(idata, var_names=present, round_to="none")
    divergences = int(idata.sample_stats["diverging"].sum()) if "sample_stats" in idata else 0
    return NutsSummary(
        table, divergences, idata.posterior.sizes["chain"], idata.posterior.sizes["draw"]
    )
