"""Sections built from the run files: beliefs against the true hidden state (7) and the posterior
checks of the Pyro model (8). Files are found under ``runs/<agent>/`` of each experiment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from aif_offload.diagnostics import beliefs as bd
from aif_offload.diagnostics.statistics import bootstrap_ci
from aif_offload.report import figures_beliefs as fb
from aif_offload.report import posterior_checks as pc
from aif_offload.report.document import Section, Table, fmt_estimate, n_seeds
from aif_offload.report.families import is_aif
from aif_offload.report.sources import Experiment
from aif_offload.report.style import FigureSink

FREE_ENERGY_KEYS = ("mean_vfe", "mean_surprise", "svi_loss")


def _stack(parts: list[xr.Dataset]) -> xr.Dataset:
    return xr.concat(parts, dim="file", join="outer")


def _file_means(stacked: xr.Dataset, key: str, server: str | None) -> np.ndarray:
    """One value per file: the step-weighted mean over episodes (and servers unless one is given)."""
    values, steps = stacked[key], stacked["steps"]
    if server is not None:
        values, steps = values.sel(server=server), steps.sel(server=server)
    dims = [d for d in values.dims if d != "file"]
    weight = steps.where(values.notnull(), 0.0)
    total = (values.fillna(0.0) * weight).sum(dims)
    count = weight.sum(dims)
    return (total / count.where(count > 0)).values


def _score_table(stacked: xr.Dataset, keys: dict[str, str], caption: str) -> Table:
    rows = []
    for server in [None, *[str(s) for s in stacked.server.values]]:
        cells = [fmt_estimate(bootstrap_ci(_file_means(stacked, k, server))) for k in keys]
        steps = stacked["steps"] if server is None else stacked["steps"].sel(server=server)
        rows.append(("all servers" if server is None else server, *cells, str(int(steps.sum()))))
    return Table(caption, ("load of", *keys.values(), "steps scored"), tuple(rows))


def _group_by_value(exp: Experiment, files: list[Path]) -> dict[float | None, list[bd.BeliefFile]]:
    """Belief files per swept value (None without a sweep), each read at most once."""
    groups: dict[float | None, list[bd.BeliefFile]] = {}
    for path in files:
        groups.setdefault(exp.sweep_value_of(path), []).append(bd.BeliefFile(path))
    return dict(sorted(groups.items(), key=lambda kv: -np.inf if kv[0] is None else kv[0]))


DISCRETE_KEYS = {
    "brier": "Brier (belief)",
    "brier_uniform": "Brier (uniform)",
    "brier_base_rate": "Brier (base rate)",
    "log_score": "log score (nats)",
    "entropy": "entropy (nats)",
}
GAUSSIAN_KEYS = {
    "coverage_50": "coverage of 50 % interval",
    "coverage_90": "coverage of 90 % interval",
    "crps": "CRPS",
    "abs_error": "|mean − truth|",
    "sd": "belief sd",
}


def _where(exp: Experiment, value: float | None) -> str:
    return f" at {exp.sweep} = {value:g}" if value is not None else ""


def _discrete(exp, agent, files, value, section, sink, figures: bool) -> None:
    found = [s for s in (bd.discrete_load_scores(f) for f in files) if s is not None]
    if not found:
        section.say(f"{agent}: its belief files hold no load beliefs with the true load level.")
        return
    stacked = _stack(found)
    section.add(
        _score_table(
            stacked,
            DISCRETE_KEYS,
            f"{agent}{_where(exp, value)}: scores of the belief over each server's load level "
            "(free / busy / full) against the simulator's true level, at every step where the truth "
            "was recorded (training steps; frozen evaluation steps record none). Brier 0 is "
            "perfect and 2 confidently wrong; the uniform and base-rate beliefs (the frequency of "
            "each level in the file, nothing about the moment) are the scores to beat. Mean over "
            f"{len(found)} seed files with 95 % bootstrap intervals over them.",
        )
    )
    if not figures:
        return
    section.add(
        sink.save(
            fb.load_belief_scores_over_training(stacked, exp.episodes),
            f"{exp.label}-{agent}-load_belief_scores_over_training",
            f"{agent}: Brier score, log score and entropy of the load belief of each server (one "
            "hidden factor each) per episode, mean over seeds with 95 % bootstrap bands; dashed "
            "and dotted grey: the Brier score of a uniform and of a base-rate belief. Dotted "
            f"vertical line: evaluation episodes begin. {n_seeds(len(found))}.",
            f"{agent} load belief scores over training",
        )
    )
    entropies = [e for e in (bd.factor_entropy(f) for f in files) if e is not None]
    if entropies:
        stacked_h = _stack(entropies)
        section.add(
            sink.save(
                fb.hidden_factor_entropy_over_training(stacked_h, exp.episodes),
                f"{exp.label}-{agent}-hidden_factor_entropy_over_training",
                f"{agent}: entropy of the belief over each other hidden factor per episode (the "
                "simulator records no truth for these, so only their sharpness is shown); mean "
                f"over seeds with 95 % bootstrap bands. {n_seeds(len(entropies))}.",
                f"{agent} hidden factor entropy",
            )
        )


def _gaussian(exp, agent, files, value, section) -> xr.Dataset | None:
    found = [s for s in (bd.gaussian_load_scores(f) for f in files) if s is not None]
    if not found:
        section.say(f"{agent}: its belief files hold no latent-load beliefs with the true load.")
        return None
    stacked = _stack(found)
    section.add(
        _score_table(
            stacked,
            GAUSSIAN_KEYS,
            f"{agent}{_where(exp, value)}: the Gaussian belief over each server's latent load "
            "(used compute fraction) against the true load, at every recorded step: how often the "
            "central 50 % and 90 % intervals cover the truth (calibrated: 0.5 and 0.9), the CRPS "
            "(lower is better, in load-fraction units), the absolute error of the mean and the "
            f"mean belief sd. Mean over {len(found)} seed files with 95 % bootstrap intervals.",
        )
    )
    return stacked


def _reliability_inputs(files: list[bd.BeliefFile]) -> tuple[np.ndarray, np.ndarray] | None:
    parts = [r for r in (bd.discrete_reliability_inputs(f) for f in files) if r is not None]
    parts = [r for r in parts if r[1].size]
    if not parts:
        return None
    return np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts])


def _reliability_figure(exp: Experiment, agent: str, group, sink: FigureSink):
    pooled = _reliability_inputs(group)
    if pooled is None:
        return None
    return sink.save(
        fb.load_belief_reliability({agent: pooled}),
        f"{exp.label}-{agent}-load_belief_reliability",
        f"{agent}: reliability of the load beliefs, pooled over servers, levels, steps and seeds: "
        "in each bin of predicted probability, how often the level was the true one (on the "
        "diagonal: calibrated; marker area: predictions in the bin; right: the count per bin, "
        f"log scale). {n_seeds(len(group))}.",
        f"{agent} reliability diagram of the load beliefs",
    )


def _experiment_beliefs(exp: Experiment, sink: FigureSink, section: Section) -> None:
    files_by_agent = {a: f for a, f in exp.belief_files().items() if is_aif(a)}
    figures = exp.sweep is None
    groups = {a: _group_by_value(exp, f) for a, f in files_by_agent.items()}
    kinds = {a: bd.belief_kind(next(iter(g.values()))[0]) for a, g in groups.items()}
    gaussian_scores: dict[str, xr.Dataset] = {}
    efe: dict[str, xr.Dataset] = {}
    # Discrete agents first (table, figures), then the Gaussian ones (tables, one shared figure).
    for agent in sorted(groups, key=lambda a: kinds[a] != "discrete"):
        for value, group in groups[agent].items():
            if kinds[agent] == "discrete":
                _discrete(exp, agent, group, value, section, sink, figures)
                reliability = _reliability_figure(exp, agent, group, sink) if figures else None
                if reliability is not None:
                    section.add(reliability)
            elif kinds[agent] == "gaussian":
                stacked = _gaussian(exp, agent, group, value, section)
                if stacked is not None and figures:
                    gaussian_scores[agent] = stacked
            else:
                section.say(f"{agent}: belief files in a layout this report does not read.")
            if figures:
                terms = [t for t in (bd.efe_terms(f) for f in group) if t is not None]
                if terms:
                    efe[agent] = _stack(terms)
    n = exp.seeds
    if gaussian_scores:
        section.add(
            sink.save(
                fb.load_interval_coverage_over_training(gaussian_scores, exp.episodes),
                f"{exp.label}-load_interval_coverage_over_training",
                "Coverage of the central 50 % and 90 % intervals of the latent-load belief "
                "(dashed: nominal) and its CRPS per episode, averaged over servers; mean over "
                "seeds with 95 % bootstrap bands. Dotted vertical line: evaluation episodes "
                f"begin. {n_seeds(n)}.",
                "coverage of the latent load intervals",
            )
        )
    keys = [
        k
        for k in FREE_ENERGY_KEYS
        if k in exp.data and np.isfinite(exp.data[k].values).any() and figures
    ]
    if keys:
        section.add(
            sink.save(
                fb.free_energy_over_training(exp.data, keys),
                f"{exp.label}-free_energy_over_training",
                "Free energies the agents report per training episode (results.nc): the "
                "variational free energy and the surprise of the observed outcome of the discrete "
                "agent (mean per step), and the final SVI loss (the negative ELBO, a variational "
                "free energy of the parameter posterior) of each episode's refit of the Pyro "
                f"model; mean over seeds with 95 % bootstrap bands. {n_seeds(n)}.",
                "free energy over training",
            )
        )
    if efe:
        section.add(
            sink.save(
                fb.efe_terms_over_training(efe, exp.episodes),
                f"{exp.label}-efe_terms_over_training",
                "Expected free energy of the agents' choices, per episode (mean per step): the "
                "risk (extrinsic) and information gain (epistemic) terms. aif-pyro/aif-ensemble: "
                "the terms of the chosen action (risk in units of the rewardless guidance, eq. 11; "
                "information gain in nats); aif-pymdp: risk is minus the expected utility "
                "(nats) and information gain the state information gain, both averaged under "
                "q(π), from which the action is drawn. Mean over seeds with 95 % bootstrap "
                f"bands. {n_seeds(n)}.",
                "expected free energy terms",
            )
        )


def beliefs_section(experiments: list[Experiment], sink: FigureSink) -> Section:
    section = Section("beliefs")
    found = [e for e in experiments if any(is_aif(a) for a in e.belief_files())]
    if not found:
        section.say(
            "No belief files (runs/<agent>/…/seed=N.beliefs.nc) in this directory: the "
            "active-inference agents write them; run e.g. `aif-offload compare --agents "
            "aif-pymdp,aif-pyro,greedy,oracle`."
        )
        return section
    for exp in found:
        section.heading(exp.setting())
        _experiment_beliefs(exp, sink, section)
    return section


def posterior_section(experiments: list[Experiment], sink: FigureSink) -> Section:
    section = Section("posterior")
    shown = False
    for exp in experiments:
        files = {a: f for a, f in exp.belief_files().items() if is_aif(a)}
        nuts = exp.nuts_files()
        ppc_agents = {a: f for a, f in files.items() if pc.has_predictive(f[0])}
        if not ppc_agents and not nuts:
            continue
        shown = True
        section.heading(exp.setting())
        for agent, agent_files in ppc_agents.items():
            pc.predictive_checks(exp, agent, agent_files, section, sink)
        for agent, agent_files in nuts.items():
            pc.nuts_checks(exp, agent, agent_files, section, sink)
            if pc.has_predictive(agent_files[0]):
                pc.predictive_checks(exp, agent, agent_files, section, sink, source="NUTS files")
        if not nuts:
            section.say(
                "No NUTS files (runs/aif-pyro/seed=N.nuts.nc) in this experiment: R-hat, effective "
                "sample sizes, divergences, trace and rank plots need them; "
                "`aif_offload.diagnostics.posterior.nuts_check` writes one from a belief file."
            )
    if not shown:
        section.say(
            "No posterior-predictive groups in the aif-pyro belief files and no NUTS files "
            "(runs/aif-pyro/seed=N.nuts.nc) in this directory: runs of `aif-pyro` with at least "
            "one training episode write the former; `aif_offload.diagnostics.posterior.nuts_check` "
            "writes the latter from a belief file."
        )
    return section
