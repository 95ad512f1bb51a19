"""Belief files of ``aif-pyro`` and ``aif-ensemble``: what ``belief_data`` writes.

Groups (dims ``seed, episode, step[, server]``; ``phase`` on ``episode`` says ``train`` or
``eval``):

- ``filtering`` (the package's own group, not an ArviZ one): per-step beliefs and EFE terms
  (``load_mean``, ``load_sd`` of the used compute fraction; ``efe_risk``, ``efe_info_gain``,
  ``efe`` of the chosen action). No ``chain`` / ``draw``: these are filtering distributions, one
  per step, not draws.
- ``observed_data``: the model's observations ``log_compute`` (NaN where not observed) and
  ``report``; ``constant_data``: the simulator's ``true_load``, the model's inputs and masks and
  the prior of every episode's refit.
- ``posterior`` (``chain, draw, seed[, server]``): draws of the global parameters from the SVI
  guide after the last training refit, one chain of ``ppc_draws`` independent draws; its attrs say
  ``inference_method = "svi"``, ``draws_are = "variational"``, ``guide = "AutoNormal"``. R-hat
  needs several chains of a sampler and is NaN here by design; the NUTS check is the
  convergence test.
- ``posterior_predictive``: ``log_compute`` and ``report`` of every episode replicated under
  those draws, with new latent loads (same attrs).

With refits but ``ppc_draws = 0`` the ``posterior`` holds the planner's ``num_models`` world-model
draws of ``log_speed`` (same attrs) and there is no ``posterior_predictive``. Without a refit to
draw from (no training episode, or ``aif-ensemble``, whose world model is a bootstrap ensemble of
networks, not the Pyro model's parameters) there is no ``posterior``: ``prior`` holds 2 x 100
exact draws of ``log_speed`` from the agent's initial prior (``inference_method =
"prior_sampling"``, ``draws_are = "exact"``).
"""

from __future__ import annotations

import numpy as np

FILTERING = "filtering"
VARIATIONAL = {"inference_method": "svi", "draws_are": "variational", "guide": "AutoNormal"}


def _stack(agent, key: str) -> np.ndarray:
    return np.stack([r[key] for r in agent.records], axis=1)  # (B, E, T, ...)


def belief_data(agent):
    """The InferenceData of the module docstring for an ``AifPyroAgent`` (or subclass)."""
    if not agent.records:
        return None
    import arviz as az
    import xarray as xr

    from aif_offload.models.latent_load_world import report_mask

    def stack(key):
        return _stack(agent, key)

    names = [s.name for s in agent.context.scenario.servers]
    train = np.array([r["train"] for r in agent.records])
    e, t = len(agent.records), agent.records[0]["server"].shape[1]
    coords = {
        "seed": agent.seeds,
        "episode": np.arange(e),
        "step": np.arange(t),
        "server": names,
        "phase": ("episode", np.where(train, "train", "eval")),
    }
    est, ests = ("seed", "episode", "step"), ("seed", "episode", "step", "server")
    beliefs = xr.Dataset(
        {
            "load_mean": (ests, stack("load_mean")),
            "load_sd": (ests, stack("load_sd")),
            "efe_risk": (est, stack("risk")),
            "efe_info_gain": (est, stack("info_gain")),
            "efe": (est, stack("efe")),
        },
        coords=coords,
    )
    observed = xr.Dataset(
        {
            "log_compute": (est, np.where(stack("compute_mask"), stack("log_compute"), np.nan)),
            "report": (ests, stack("report")),
        },
        coords=coords,
    )
    prior = agent.world.prior(agent.world.speed_loc[0], agent.world.speed_scale[0])
    inputs = xr.Dataset(
        {
            "true_load": (ests, stack("true_load")),
            "control": (ests, stack("control")),
            "server_index": (est, stack("server")),
            "log_nominal_compute": (est, stack("log_nominal")),
            "compute_mask": (est, stack("compute_mask")),
            "report_mask": (ests, report_mask(stack("report"))),
            "prior_log_speed_loc": (("seed", "episode", "server"), stack("prior_loc")),
            "prior_log_speed_scale": (("seed", "episode", "server"), stack("prior_scale")),
            **prior.scalar_constants(),
        },
        coords=coords,
    )
    groups = {FILTERING: beliefs, "observed_data": observed, "constant_data": inputs}
    checks = posterior_check(agent, train, names) if train.any() else None
    if checks is not None:
        groups["posterior"], groups["posterior_predictive"] = checks
    elif any(r.fitted for r in agent.world.refitters):  # no predictive check asked for
        draws = _world_models(agent, names)
        draws.attrs.update(VARIATIONAL)
        groups["posterior"] = draws
    else:
        groups["prior"] = prior_draws(agent, names)
    return az.InferenceData(**groups, warn_on_custom_groups=False)


def _world_models(agent, names: list[str]):
    """The planner's current ``log_speed`` draws (one chain of ``num_models``)."""
    import xarray as xr

    values = np.moveaxis(agent.world.model_log_speed, 0, 1)[None]  # (chain, draw, seed, server)
    return xr.Dataset(
        {"log_speed": (("chain", "draw", "seed", "server"), values)},
        coords={"seed": agent.seeds, "server": names},
    )


def prior_draws(agent, names: list[str], chains: int = 2, draws: int = 100):
    """Exact draws of ``log_speed`` from the agent's initial prior ``N(0, prior_log_speed_scale)``
    (``chains`` x ``draws``, seeded by the agent's seeds)."""
    import xarray as xr

    rng = np.random.default_rng([*map(int, agent.seeds), 104_723])
    scale = agent.config.prior_log_speed_scale
    values = rng.normal(0.0, scale, (chains, draws, len(agent.seeds), len(names)))
    ds = xr.Dataset(
        {"log_speed": (("chain", "draw", "seed", "server"), values)},
        coords={"seed": agent.seeds, "server": names},
    )
    ds.attrs.update({"inference_method": "prior_sampling", "draws_are": "exact"})
    return ds


def posterior_check(agent, train: np.ndarray, names: list[str]):
    """Draws of the globals from every row's guide after the last training refit and the
    observations of every episode replicated under them (``Predictive``, new latent loads);
    ``None`` if there is no guide to draw from. Run once, at the end: no per-step cost."""
    draws = agent.config.ppc_draws
    if draws < 1 or not all(r.fitted for r in agent.world.refitters):
        return None
    import pyro
    import torch
    import xarray as xr
    from pyro.infer import Predictive

    from aif_offload.inference.svi import GLOBAL_SITES
    from aif_offload.models.latent_load_model import latent_load_model
    from aif_offload.models.latent_load_world import OBSERVED as _OBSERVED
    from aif_offload.models.latent_load_world import load_data as _load_data

    last = int(np.flatnonzero(train)[-1])
    record = agent.records[last]
    params: dict[str, list[np.ndarray]] = {}
    replicas: dict[str, list[np.ndarray]] = {"log_compute": [], "report": []}
    for i, seed in enumerate(agent.seeds):
        fitted_on = _load_data({k: record[k][i][None] for k in _OBSERVED})
        prior = agent.world.prior(record["prior_loc"][i], record["prior_scale"][i])
        ppc_seed = (seed * 100_003 + 99_991) % (2**31)
        sample = agent.world.refitters[i].sample_globals(
            fitted_on, prior, num_samples=draws, seed=ppc_seed
        )
        for k, v in sample.items():
            params.setdefault(k, []).append(v.reshape(draws, -1))
        episodes = {k: np.stack([r[k][i] for r in agent.records]) for k in _OBSERVED}
        predictive = Predictive(
            latent_load_model,
            posterior_samples={k: torch.tensor(v) for k, v in sample.items()},
            return_sites=("log_compute", "report"),
        )
        pyro.set_rng_seed(ppc_seed + 1)
        out = predictive(_load_data(episodes, observed=False), prior)
        e, t, s = episodes["control"].shape
        log_compute = out["log_compute"].reshape(draws, e, t).numpy()
        replicas["log_compute"].append(
            np.where(episodes["compute_mask"], log_compute, np.nan).astype(np.float32)
        )
        report = out["report"].reshape(draws, e, t, s).numpy()
        replicas["report"].append(np.clip(report, 0.0, 1.0).astype(np.float32))
    phase = np.where(train, "train", "eval")
    coords = {"seed": agent.seeds, "server": names}
    posterior = xr.Dataset(
        {
            "log_speed": (
                ("chain", "draw", "seed", "server"),
                np.stack(params["log_speed"], 1)[None],
            ),
            **{
                k: (("chain", "draw", "seed"), np.concatenate(params[k], 1)[None])
                for k in GLOBAL_SITES
                if k != "log_speed"
            },
        },
        coords=coords,
    )
    predictive_ds = xr.Dataset(
        {
            "log_compute": (
                ("chain", "draw", "seed", "episode", "step"),
                np.stack(replicas["log_compute"], 1)[None],
            ),
            "report": (
                ("chain", "draw", "seed", "episode", "step", "server"),
                np.stack(replicas["report"], 1)[None],
            ),
        },
        coords=coords
        | {"episode": np.arange(len(train)), "step": np.arange(t), "phase": ("episode", phase)},
    )
    for ds in (posterior, predictive_ds):
        ds.attrs.update(VARIATIONAL | {"fitted_episode": last})
    return posterior, predictive_ds
