"""Posterior checks of the Pyro latent-load model, from saved files only.

- Posterior predictive checks: ``aif-pyro`` belief files that carry ``posterior_predictive`` and
  ``observed_data`` groups (observations of every episode replicated under posterior draws of the
  globals). Observed and replicated values are pooled over the steps that were really observed
  (finite, and inside the report mask for the censored load reports) and over seeds.
- NUTS diagnostics: ``runs/<agent>/seed=N.nuts.nc`` InferenceData (posterior, sample_stats): R-hat
  and effective sample sizes per parameter (``az.summary``), divergent transitions, trace and rank
  plots. Latent paths (one value per step) are summarised by their worst R-hat and ESS only.

The predictive-check numbers are ``aif_offload.diagnostics.ppc.ppc_checks`` (p-values of the
mean, sd and residuals, predictive-interval coverage; no Pyro needed), the NUTS numbers ArviZ's
own ``az.summary``, ``az.rhat`` and ``az.ess``. Every check needs ArviZ (the ``aif`` extra);
without it the section says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aif_offload.diagnostics.beliefs import read_group
from aif_offload.diagnostics.ppc import ppc_checks
from aif_offload.report import figures_posterior as fp
from aif_offload.report.document import Section, Table, fmt, n_seeds
from aif_offload.report.sources import Experiment
from aif_offload.report.style import FigureSink

PPC_VARIABLES = ("log_compute", "report")
MAX_TABLE_SIZE = 12  # parameters with more scalar components are summarised, not listed
MAX_PLOTTED = 4  # variables in the trace and rank plots


def _arviz():
    try:
        import arviz as az
    except ImportError:
        return None
    return az


def has_predictive(path: Path) -> bool:
    predictive = read_group(path, "posterior_predictive")
    observed = read_group(path, "observed_data")
    if predictive is None or observed is None:
        return False
    return any(v in predictive and v in observed for v in PPC_VARIABLES)


def _pool(files: list[Path]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per variable: observed values (n,) and replicated values (draws, n) over the files."""
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for path in files:
        predictive = read_group(path, "posterior_predictive")
        observed = read_group(path, "observed_data")
        constant = read_group(path, "constant_data")
        if predictive is None or observed is None:
            continue
        for name in PPC_VARIABLES:
            if name not in predictive or name not in observed:
                continue
            obs = observed[name]
            rep = predictive[name].stack(sample=("chain", "draw")).transpose("sample", *obs.dims)
            obs_v, rep_v = obs.values.astype(float), rep.values.astype(float)
            mask = np.isfinite(obs_v) & np.isfinite(rep_v).all(axis=0)
            if name == "report" and constant is not None and "report_mask" in constant:
                mask &= constant["report_mask"].transpose(*obs.dims).values.astype(bool)
            if mask.any():
                pooled.setdefault(name, []).append((obs_v[mask], rep_v[:, mask]))
    out = {}
    for name, parts in pooled.items():
        draws = min(r.shape[0] for _, r in parts)
        out[name] = (
            np.concatenate([o for o, _ in parts]),
            np.concatenate([r[:draws] for _, r in parts], axis=1),
        )
    return out


PPC_COLUMNS = ("n", "p_mean", "p_sd", "p_resid_mean", "p_resid_sd", "cover_50", "cover_90")


def _groups(path: Path) -> dict:
    names = ("posterior_predictive", "observed_data", "constant_data")
    return {g: ds for g in names if (ds := read_group(path, g)) is not None}


def _checks(path: Path) -> dict[str, dict[str, float]]:
    """Predictive-check numbers of one file (``ppc_checks``); a variable without a finite
    replication was not checked (its p-values are not 0 but absent)."""
    groups = _groups(path)
    table = ppc_checks(groups)
    rows = {str(k): {c: float(v) for c, v in r.items()} for k, r in table.iterrows()}
    predictive = groups["posterior_predictive"]
    for name in list(rows):
        if not np.isfinite(predictive[name].values).any():
            rows[name] = {"n": rows[name].get("n", float("nan"))}
    return rows


def predictive_checks(
    exp: Experiment,
    agent: str,
    files: list[Path],
    section: Section,
    sink: FigureSink,
    *,
    source: str = "belief files",
) -> None:
    """Posterior predictive table (per file) and plot (pooled) of belief or NUTS files."""
    if _arviz() is None:
        section.say(f"{agent}: posterior predictive groups found, but ArviZ is not installed.")
        return
    pooled = _pool(files)
    if not pooled:
        section.say(f"{agent}: the posterior predictive groups hold no observed steps to check.")
        return
    rows = []
    for path in files:
        for name, row in _checks(path).items():
            cells = [fmt(row[c]) if c in row else "n/a" for c in PPC_COLUMNS]
            cells[0] = str(int(row["n"])) if np.isfinite(row.get("n", np.nan)) else "n/a"
            rows.append((path.name, name, *cells))
    kind = "NUTS" if source == "NUTS files" else "refit"
    section.add(
        Table(
            f"{agent}, {source}: posterior predictive checks per file. p-values are "
            "P(statistic of replicated data ≥ observed) of the mean and sd of the observations "
            "and of their residuals from the known part of the model; near 0 or 1 the model "
            "misses that feature of the data. cover: the fraction of observations inside their "
            "central 50 % / 90 % predictive interval (calibrated: 0.5 / 0.9; clipped reports "
            "raise it). 'n/a': a number this file does not allow (e.g. no finite replications of "
            "that variable).",
            (
                "file",
                "observed",
                "n",
                "p(mean)",
                "p(sd)",
                "p(resid mean)",
                "p(resid sd)",
                "cover 50 %",
                "cover 90 %",
            ),
            tuple(rows),
        ),
        sink.save(
            fp.posterior_predictive_density(pooled),
            f"{exp.label}-{agent}-{kind}-posterior_predictive_check",
            f"{agent}, {source}: posterior predictive check (az.plot_ppc): density of the observed "
            "values (black) against replications under posterior draws of the model's global "
            f"parameters ({'the NUTS posterior' if kind == 'NUTS' else 'the last SVI refit'}; "
            "blue, dashed orange their mean), pooled over steps and seeds"
            f"{' and every swept value' if exp.sweep else ''}. "
            f"{n_seeds(len(files))}.",
            f"{agent} posterior predictive check",
        ),
    )


def _split_variables(posterior) -> tuple[list[str], list[str]]:
    small, large = [], []
    for name, value in posterior.data_vars.items():
        size = int(value.isel(chain=0, draw=0).size)
        (small if size <= MAX_TABLE_SIZE else large).append(str(name))
    return small, large


def nuts_checks(
    exp: Experiment, agent: str, files: list[Path], section: Section, sink: FigureSink
) -> None:
    az = _arviz()
    if az is None:
        section.say(f"{agent}: NUTS files found, but ArviZ is not installed to read them.")
        return
    rows, divergences, first = [], [], None
    for path in files:
        try:
            data = az.from_netcdf(path)
        except (OSError, ValueError, KeyError) as err:
            section.say(f"{agent}: cannot read {path.name}: {' '.join(str(err).split())}")
            continue
        if "posterior" not in data.groups():
            section.say(f"{agent}: {path.name} holds no posterior group.")
            continue
        small, large = _split_variables(data.posterior)
        if first is None and small:
            first = (path, data, small)
        chains = data.posterior.sizes.get("chain", 1)
        draws = data.posterior.sizes.get("draw", 0)
        if small:
            summary = az.summary(data, var_names=small, kind="all", round_to="none")
            for label, row in summary.iterrows():
                rows.append(
                    (
                        path.name,
                        str(label),
                        fmt(row["mean"]),
                        fmt(row["sd"]),
                        f"[{fmt(row['hdi_3%'])}, {fmt(row['hdi_97%'])}]",
                        fmt(row["ess_bulk"]),
                        fmt(row["ess_tail"]),
                        fmt(row["r_hat"]),
                    )
                )
        for name in large:
            rhat = az.rhat(data, var_names=[name])[name].values
            ess = az.ess(data, var_names=[name])[name].values
            rows.append(
                (
                    path.name,
                    f"{name} ({rhat.size} values: worst shown)",
                    "",
                    "",
                    "",
                    fmt(float(np.nanmin(ess))),
                    "",
                    fmt(float(np.nanmax(rhat))),
                )
            )
        diverging = 0
        if "sample_stats" in data.groups() and "diverging" in data.sample_stats:
            diverging = int(np.asarray(data.sample_stats["diverging"].values).sum())
        divergences.append((path.name, str(chains), str(draws), str(diverging)))
    if rows:
        section.add(
            Table(
                f"{agent}: NUTS posterior summary (az.summary): mean, sd, 94 % highest-density "
                "interval, bulk and tail effective sample size, R-hat (want ESS in the hundreds "
                "and R-hat < 1.01; R-hat needs more than one chain to detect non-mixing).",
                ("file", "parameter", "mean", "sd", "94 % HDI", "ESS bulk", "ESS tail", "R-hat"),
                tuple(rows),
            ),
            Table(
                f"{agent}: divergent transitions per NUTS file (any divergence means the sampler "
                "missed part of the posterior).",
                ("file", "chains", "draws per chain", "divergences"),
                tuple(divergences),
            ),
        )
    if first is not None:
        path, data, small = first
        names = small[:MAX_PLOTTED]
        section.add(
            sink.save(
                fp.nuts_trace(data, names),
                f"{exp.label}-{agent}-nuts_trace",
                f"{agent}, {path.name}: NUTS trace plot of {', '.join(names)} (left: posterior "
                "density per chain, right: the draws in order). n = 1 seed (the first file).",
                f"{agent} NUTS trace",
            ),
            sink.save(
                fp.nuts_rank(data, names),
                f"{exp.label}-{agent}-nuts_rank",
                f"{agent}, {path.name}: rank plots of the NUTS draws per chain (bars near uniform "
                "when chains mix). n = 1 seed (the first file).",
                f"{agent} NUTS rank plot",
            ),
        )
