"""Belief files of the active-inference agents, scored against the simulator's truth.

Two shapes of belief are recorded (``runs/<agent>/.../seed=<s>.beliefs.nc``), both in the group
``filtering`` (one distribution per step, no draws: see ``docs/files.md``):

- discrete (``aif-pymdp``): ``filtering/q_load`` (seed, episode, step, server, level) with the true
  level ``constant_data/true_load_level`` (-1 where no transition was observed), the belief over
  every other hidden factor as ``filtering/q_<factor>`` and q(pi) with the EFE terms per policy;
- Gaussian (``aif-pyro``, ``aif-ensemble``): ``filtering/load_mean`` and ``load_sd`` (seed, episode,
  step, server) of the latent load with the true used fraction ``constant_data/true_load``, and the
  expected-free-energy terms of the chosen action (``efe_risk``, ``efe_info_gain``).

Files written before the ``filtering`` group existed (the same variables in ``posterior`` /
``sample_stats`` or ``predictions``, without ``chain``) are read the same way.

The functions read one file and return scores per (episode, server) so they can be averaged over
seeds or over time; the files are read with xarray only (no ArviZ needed).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from aif_offload.diagnostics.calibration import (
    brier_score,
    entropy,
    gaussian_crps,
    gaussian_interval_coverage,
    log_score,
)

INTERVAL_MASSES = (0.5, 0.9)
FILTERING = "filtering"
_LEGACY_FILTERING = ("posterior", "sample_stats", "predictions")


def read_group(path: Path, group: str) -> xr.Dataset | None:
    """One group of a belief file, loaded into memory; None if the file has no such group."""
    try:
        with xr.open_dataset(path, group=group, engine="h5netcdf") as ds:
            return ds.load()
    except (OSError, KeyError, ValueError):
        return None


def read_filtering(path: Path) -> xr.Dataset | None:
    """The ``filtering`` group of a belief file; for an older file, its per-step variables from
    the groups that held them then (those without ``chain``); None if there are none."""
    found = read_group(path, FILTERING)
    if found is not None:
        return found
    parts = [read_group(path, g) for g in _LEGACY_FILTERING]
    parts = [p for p in parts if p is not None and "chain" not in p.dims]
    return xr.merge(parts, compat="override") if parts else None


class BeliefFile:
    """A belief file whose groups are read at most once (several scores read the same group)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._groups: dict[str, xr.Dataset | None] = {}

    def group(self, name: str) -> xr.Dataset | None:
        if name not in self._groups:
            if name == FILTERING:
                self._groups[name] = read_filtering(self.path)
            else:
                self._groups[name] = read_group(self.path, name)
        return self._groups[name]


Source = Path | str | BeliefFile


def _group(source: Source, name: str) -> xr.Dataset | None:
    if not isinstance(source, BeliefFile):
        source = BeliefFile(Path(source))
    return source.group(name)


def belief_kind(path: Source) -> str | None:
    """``discrete`` (q_load), ``gaussian`` (load_mean / load_sd) or None for another layout."""
    filtering = _group(path, FILTERING)
    if filtering is not None and "q_load" in filtering:
        return "discrete"
    if filtering is not None and {"load_mean", "load_sd"} <= set(filtering):
        return "gaussian"
    return None


def _mean_over(values: np.ndarray, mask: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", category=RuntimeWarning)
        total = np.where(mask, values, 0.0).sum(axis=axes)
        count = mask.sum(axis=axes)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def discrete_load_scores(path: Source) -> xr.Dataset | None:
    """Brier score, log score and entropy of the load beliefs, mean per (episode, server).

    Means are over seeds and steps where the true level is known; ``steps`` counts them. Also the
    Brier score of two naive beliefs: ``brier_uniform`` (uniform over the levels) and
    ``brier_base_rate`` (the frequency of each true level in this file: knows how often
    each level occurs, nothing about the moment). None if the
    file holds no discrete load beliefs with truth.
    """
    posterior = _group(path, FILTERING)
    truth = _group(path, "constant_data")
    if posterior is None or truth is None or "q_load" not in posterior:
        return None
    if "true_load_level" not in truth:
        return None
    q = posterior["q_load"].transpose("seed", "episode", "step", "server", "level")
    level = truth["true_load_level"].transpose("seed", "episode", "step", "server").values
    p = q.values.astype(float)
    known = (level >= 0) & np.isfinite(p).all(axis=-1)
    safe = np.where(known, level, 0).astype(int)
    levels = p.shape[-1]
    counts = np.bincount(safe[known], minlength=levels).astype(float)
    base_rate = counts / max(counts.sum(), 1.0)  # frequency of each true level in the file
    axes = (0, 2)  # seed, step
    scores = {
        "brier": brier_score(p, safe),
        "log_score": log_score(np.nan_to_num(p), safe),
        "entropy": entropy(np.nan_to_num(p)),
        "brier_uniform": brier_score(np.full(levels, 1.0 / levels), safe),
        "brier_base_rate": brier_score(np.broadcast_to(base_rate, p.shape), safe),
    }
    coords = {"episode": q.episode.values, "server": q.server.values}
    data = {k: (("episode", "server"), _mean_over(v, known, axes)) for k, v in scores.items()}
    data["steps"] = (("episode", "server"), known.sum(axis=axes).astype(float))
    return xr.Dataset(data, coords=coords)


def discrete_reliability_inputs(path: Source) -> tuple[np.ndarray, np.ndarray] | None:
    """Load-belief probabilities (n, levels) and true levels (n,) at every step with truth."""
    posterior = _group(path, FILTERING)
    truth = _group(path, "constant_data")
    if posterior is None or truth is None or "q_load" not in posterior:
        return None
    if "true_load_level" not in truth:
        return None
    p = posterior["q_load"].transpose("seed", "episode", "step", "server", "level").values
    level = truth["true_load_level"].transpose("seed", "episode", "step", "server").values
    known = (level >= 0) & np.isfinite(p).all(axis=-1)
    return p[known].astype(float), level[known].astype(int)


def factor_entropy(path: Source) -> xr.Dataset | None:
    """Mean entropy (nats) of the belief over every hidden factor other than the load, per episode."""
    posterior = _group(path, FILTERING)
    if posterior is None:
        return None
    found = {}
    for name, q in posterior.data_vars.items():
        if not name.startswith("q_") or name in ("q_load", "q_pi"):
            continue
        factor_dim = q.dims[-1]
        values = q.transpose("seed", "episode", "step", factor_dim).values.astype(float)
        h = entropy(np.nan_to_num(values))
        known = np.isfinite(values).all(axis=-1)
        found[name.removeprefix("q_")] = (("episode",), _mean_over(h, known, (0, 2)))
    if not found:
        return None
    return xr.Dataset(found, coords={"episode": posterior.episode.values})


def gaussian_load_scores(path: Source) -> xr.Dataset | None:
    """Coverage of the central 50 % and 90 % intervals and CRPS of the latent-load beliefs.

    Mean per (episode, server) over seeds and steps where the true load is known; ``sd`` is the mean
    belief sd. A calibrated belief covers the truth 50 % and 90 % of the time. None if the file holds
    no Gaussian load beliefs with truth.
    """
    found = _group(path, FILTERING)
    truth = _group(path, "constant_data")
    if found is None or truth is None or "true_load" not in truth:
        return None
    if not {"load_mean", "load_sd"} <= set(found):
        return None
    order = ("seed", "episode", "step", "server")
    mean = found["load_mean"].transpose(*order).values.astype(float)
    sd = np.maximum(found["load_sd"].transpose(*order).values.astype(float), 1e-12)
    true = truth["true_load"].transpose(*order).values.astype(float)
    known = np.isfinite(mean) & np.isfinite(sd) & np.isfinite(true)
    mean, true = np.where(known, mean, 0.0), np.where(known, true, 0.0)
    axes = (0, 2)
    scores = {
        f"coverage_{round(100 * m)}": gaussian_interval_coverage(mean, sd, true, m)
        for m in INTERVAL_MASSES
    }
    scores["crps"] = gaussian_crps(mean, sd, true)
    scores["abs_error"] = np.abs(mean - true)
    scores["sd"] = sd
    coords = {
        "episode": found.episode.values,
        "server": found.server.values,
    }
    data = {k: (("episode", "server"), _mean_over(v, known, axes)) for k, v in scores.items()}
    data["steps"] = (("episode", "server"), known.sum(axis=axes).astype(float))
    return xr.Dataset(data, coords=coords)


def efe_terms(path: Source) -> xr.Dataset | None:
    """Mean expected-free-energy terms per episode: ``risk`` and ``info_gain``.

    Gaussian agents record the terms of the chosen action (``filtering/efe_risk``,
    ``efe_info_gain``). The discrete agent records them for every policy (``filtering/utility``,
    ``info_gain``, with q(pi)); its risk is the negative expected utility, and both are averaged
    under q(pi), the distribution the action is drawn from.
    """
    found = _group(path, FILTERING)
    if found is not None and {"efe_risk", "efe_info_gain"} <= set(found):
        risk = found["efe_risk"].mean(("seed", "step"), skipna=True)
        gain = found["efe_info_gain"].mean(("seed", "step"), skipna=True)
        return xr.Dataset({"risk": risk, "info_gain": gain}).drop_vars(
            [c for c in ("phase",) if c in found.coords], errors="ignore"
        )
    stats = found
    if stats is None or not {"q_pi", "utility", "info_gain"} <= set(stats):
        return None
    q = stats["q_pi"].fillna(0.0)
    risk = -(q * stats["utility"]).sum("policy").where(stats["utility"].notnull().any("policy"))
    gain = (q * stats["info_gain"]).sum("policy").where(stats["info_gain"].notnull().any("policy"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return xr.Dataset(
            {
                "risk": risk.mean(("seed", "step"), skipna=True),
                "info_gain": gain.mean(("seed", "step"), skipna=True),
            }
        )


def load_level_summary(path: Source) -> dict[str, float] | None:
    """File-level means of the discrete load scores (the numbers ``belief_scores`` prints)."""
    found = discrete_load_scores(path)
    if found is None:
        return None
    weights = found["steps"].values
    if weights.sum() == 0:
        return None
    out = {
        key: float(np.nansum(found[key].values * weights) / weights.sum())
        for key in ("brier", "brier_uniform", "brier_base_rate", "log_score", "entropy")
    }
    out["steps"] = float(weights.sum())
    return out
