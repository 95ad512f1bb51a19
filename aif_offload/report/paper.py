"""The one checker of the paper's reported results: reads ``paper_claims.toml``, writes verdicts.

The paper's numbers and findings are data (``aif_offload/report/paper_claims.toml``: figure,
metric or finding, the paper's methods, the expected number and tolerance, or the named check and
its parameters); this module loads them and holds one function per kind of check (``CHECKS``).
Every claim gets a row: a verdict (``Consistent``, ``Does not hold``) or the reason it cannot be
checked. The paper describes its own system, so only experiments on the ``paper`` scenario are
held against it; the report says so for any other scenario.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from aif_offload.agents.base import ORACLE
from aif_offload.diagnostics.comparison import curve_jitter
from aif_offload.diagnostics.statistics import Estimate
from aif_offload.report import measures as m
from aif_offload.report.document import fmt, fmt_estimate
from aif_offload.report.families import agent_family, base_name, is_aif, learns
from aif_offload.report.sources import Experiment
from aif_offload.report.style import SHORT_LABELS

CLAIMS_FILE = "paper_claims.toml"


@cache
def claims_table() -> dict:
    """The parsed ``paper_claims.toml``."""
    text = resources.files("aif_offload.report").joinpath(CLAIMS_FILE).read_text("utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True)
class PaperNumber:
    """One number the paper reports, read off a figure, and how close counts as the same."""

    figure: str
    metric: str
    method: str  # the paper's name: proposed, PPO, Rainbow DQN, SAC
    value: float
    tolerance: float

    @property
    def text(self) -> str:
        unit = " s" if self.metric == "mean_latency_s" else ""
        return f"~{self.value:g}{unit}"


@dataclass(frozen=True)
class Claim:
    """A finding in the paper's words and the check (with its parameters) that tests it."""

    key: str
    figure: str
    text: str
    check: str
    params: dict


_TABLE = claims_table()
SOURCE = _TABLE["source"]
SCENARIO = _TABLE["scenario"]
FIGURES = _TABLE["figures"]
FIG3, FIG4, FIG5 = FIGURES["fig3"], FIGURES["fig4"], FIGURES["fig5"]
HEADLINE_CLAIMS = FIGURES["headline"]
CONVERGENCE_EPISODES = int(_TABLE["convergence_episodes"])
PAPER_BASELINES: dict[str, str] = dict(_TABLE["methods"])
PAPER_NUMBERS = tuple(
    PaperNumber(FIGURES[n["figure"]], n["metric"], n["method"], n["value"], n["tolerance"])
    for n in _TABLE["numbers"]
)
_CLAIM_FIELDS = ("key", "figure", "text", "check")
CLAIMS = {
    c["key"]: Claim(
        c["key"],
        FIGURES[c["figure"]],
        c["text"],
        c["check"],
        {k: v for k, v in c.items() if k not in _CLAIM_FIELDS},
    )
    for c in _TABLE["claims"]
}
PAPER_CLAIMS = {k: (c.figure, c.text) for k, c in CLAIMS.items()}

HEADER = ("paper", "claim or number", "paper", "agent here", "ours", "verdict")


def is_paper_baseline(agent: str) -> bool:
    return base_name(agent) in PAPER_BASELINES.values()


def is_paper_method(agent: str) -> bool:
    """The paper's method or one of its baselines (rules and the oracle are ours only)."""
    return is_aif(agent) or is_paper_baseline(agent)


def _row(figure: str, claim: str, paper: str, agent: str, ours: str, verdict: str):
    return (figure, claim, paper, agent, ours, verdict)


def _claim_row(key: str, agent: str, ours: str, verdict: str):
    figure, text = PAPER_CLAIMS[key]
    return _row(figure, text, "reported", agent, ours, verdict)


def on_paper_scenario(exp: Experiment) -> bool:
    """Whether the experiment ran on the paper's own system (the claims describe no other)."""
    return exp.scenario.get("name") == SCENARIO


def fig3_experiments(experiments: list[Experiment]) -> tuple[list[Experiment], str]:
    """The experiments to hold against Fig. 3 (``training`` first, then any comparison at the
    Fig. 3 setting), or none and the reason."""
    setting = _TABLE["fig3_setting"]
    comparisons = [e for e in experiments if e.is_comparison]
    found = [e for e in comparisons if e.name == "training"]
    found += [
        e
        for e in comparisons
        if e not in found
        and e.t_max_s == setting["t_max_s"]
        and e.load_percent == setting["load_percent"]
    ]
    if found:
        return found, ""
    if comparisons:
        settings = "; ".join(
            f"{e.label}: t_max {e.t_max_s} s, load {e.load_percent} %" for e in comparisons
        )
        return [], f"the comparisons here ran at other settings ({settings})"
    return [], "no comparison at t_max 15 s, load 100 % (`aif-offload experiment training`)"


def _matches(exp: Experiment, method: str) -> list[str]:
    if method == "proposed":
        return m.aif_agents(exp)
    return [a for a in exp.agents if base_name(a) == PAPER_BASELINES[method]]


def _label(exp: Experiment, agent: str, method: str, several: bool) -> str:
    label = agent
    if method == "proposed" and agent == m.best_aif_agent(exp) and len(m.aif_agents(exp)) > 1:
        label += " (best active-inference agent)"
    return f"{label} in {exp.label}" if several else label


def _compare_number(number: PaperNumber, end: Estimate, exp: Experiment, agent: str) -> str:
    if not np.isfinite(end.value):
        return "Cannot be checked: no finite value here."
    low, high = number.value - number.tolerance, number.value + number.tolerance
    unit = " s" if number.metric == "mean_latency_s" else ""
    by = f"by more than {number.tolerance:g}{unit}"
    if end.high < low:
        verdict = f"Does not hold: lower than the paper's {number.text} ({by})."
    elif end.low > high:
        verdict = f"Does not hold: higher than the paper's {number.text} ({by})."
    else:
        verdict = f"Consistent: within ±{number.tolerance:g}{unit} of the paper's {number.text}."
    if exp.episodes < CONVERGENCE_EPISODES and learns(agent):
        verdict += (
            f" Our run trained {_episodes(exp.episodes)}; the paper's curves take about "
            f"{CONVERGENCE_EPISODES}, so this is not a converged level."
        )
    return verdict


def _episodes(n: float) -> str:
    return f"{n:g} episode" if n == 1 else f"{n:g} episodes"


def _method_agent(method: str) -> str:
    return "active-inference" if method == "proposed" else PAPER_BASELINES[method]


def _in(exp: Experiment, several: bool) -> str:
    return f" in {exp.label}" if several else ""


def number_rows(experiments: list[Experiment]) -> list[tuple[str, ...]]:
    """Every ``[[numbers]]`` entry against the end of training of the matching agents."""
    found, reason = fig3_experiments(experiments)
    rows = []
    for number in PAPER_NUMBERS:
        claim = f"{SHORT_LABELS[number.metric]}, {number.method} (end of training)"
        if not found:
            rows.append(
                _row(number.figure, claim, number.text, "", "n/a", f"Cannot be checked: {reason}.")
            )
            continue
        matched = [(exp, agent) for exp in found for agent in _matches(exp, number.method)]
        if not matched:
            where = ", ".join(e.label for e in found)
            why = f"Cannot be checked: no {_method_agent(number.method)} agent in {where}."
            rows.append(_row(number.figure, claim, number.text, "", "n/a", why))
        for exp, agent in matched:
            end = m.end_of_training(exp, number.metric, agent)
            held = fmt_estimate(m.held_out(exp, number.metric, agent))
            rows.append(
                _row(
                    number.figure,
                    claim,
                    number.text,
                    _label(exp, agent, number.method, len(found) > 1),
                    f"{fmt_estimate(end)} (held-out: {held})",
                    _compare_number(number, end, exp, agent),
                )
            )
    return rows


# ---- checks on the Fig. 3 comparisons (training or a comparison at its setting) --------------


def _settles_within(claim: Claim, exp: Experiment, several: bool) -> list[tuple[str, ...]]:
    best = m.best_aif_agent(exp)
    if best is None:
        why = f"Cannot be checked: no active-inference agent{_in(exp, several)}."
        return [_claim_row(claim.key, "", "n/a", why)]
    limit = claim.params["episodes"]
    reach = m.episodes_to_95(exp, best, claim.params["metric"])
    ours = f"episodes to 95 % of final completion (median over seeds): {m.median_or_never(reach)}"
    if exp.episodes < limit:
        verdict = (
            f"Cannot be checked: our run has {_episodes(exp.episodes)} of training, fewer than the "
            f"paper's ~{limit}; 'final' here is the level after {exp.episodes}."
        )
    else:
        reached = [r for r in reach if r is not None]
        if reached and np.median(reached) <= claim.params["slack"] * limit:
            verdict = f"Consistent: it settles within about {limit} episodes."
        else:
            verdict = f"Does not hold: it settles later than about {limit} episodes, or never."
    return [_claim_row(claim.key, best + _in(exp, several), ours, verdict)]


def _smoother_than_baselines(claim: Claim, exp: Experiment, several: bool):
    if exp.episodes < 3:
        why = f"Cannot be checked: fewer than 3 episodes{_in(exp, several)}."
        return [_claim_row(claim.key, "", "n/a", why)]
    metric = claim.params["metric"]

    def jitter(agent: str) -> float:
        curves = exp.data[metric].sel(agent=agent).transpose("seed", "episode").values
        return float(np.nanmean([curve_jitter(c) for c in curves]))

    best = m.best_aif_agent(exp)
    drl = [a for a in exp.agents if is_paper_baseline(a)]
    if best is None or not drl:
        missing = "active-inference agent" if best is None else "deep-RL baseline of the paper"
        why = f"Cannot be checked: no {missing}{_in(exp, several)}."
        return [_claim_row(claim.key, "", "n/a", why)]
    ours = "; ".join(f"{a}: {fmt(jitter(a))} s" for a in [best, *drl])
    ours = "mean |change| of latency between consecutive episodes: " + ours
    smoother = all(jitter(best) < jitter(a) for a in drl)
    verdict = (
        f"Consistent: {best}'s latency curve moves less between episodes than every deep-RL curve."
        if smoother
        else f"Does not hold: some deep-RL latency curve is smoother than {best}'s."
    )
    return [_claim_row(claim.key, best + _in(exp, several), ours, verdict)]


def _median(values: list[int | None]) -> float | None:
    reached = [v for v in values if v is not None]
    if not reached or len(reached) * 2 < len(values):  # most seeds never got there
        return None
    return float(np.median(reached))


def _settles_no_later(claim: Claim, exp: Experiment, several: bool) -> list[tuple[str, ...]]:
    best = m.best_aif_agent(exp)
    drl = [a for a in exp.agents if is_paper_baseline(a)]
    if best is None or not drl:
        missing = "active-inference agent" if best is None else "deep-RL baseline of the paper"
        why = f"Cannot be checked: no {missing} in {exp.label}."
        return [_claim_row(claim.key, "", "n/a", why)]
    metric = claim.params["metric"]
    median = {a: _median(m.episodes_to_95(exp, a, metric)) for a in [best, *drl]}
    ours = "episodes to 95 % of final completion (median): " + "; ".join(
        f"{a} {'never' if v is None else fmt(v)}" for a, v in median.items()
    )
    sooner = [
        a
        for a in drl
        if median[a] is not None and (median[best] is None or median[a] < median[best])
    ]
    verdict = (
        f"Consistent: {best} settles no later than every deep-RL baseline."
        if not sooner
        else f"Does not hold: {', '.join(sooner)} settle sooner."
    )
    if exp.episodes < CONVERGENCE_EPISODES:
        verdict += f" ({_episodes(exp.episodes)} only: 'final' is an early level.)"
    return [_claim_row(claim.key, best + _in(exp, several), ours, verdict)]


# ---- checks on a sweep (the richest one of its parameter) ------------------------------------


def _sweep_means(exp: Experiment, metric: str) -> dict[str, dict[float, float]]:
    return {
        a: {
            float(v): float(np.nanmean(m.seed_values(exp, metric, a, value=v)))
            for v in exp.data[exp.sweep].values
        }
        for a in exp.agents
    }


def _richest_sweep(experiments: list[Experiment], sweep: str) -> Experiment | None:
    """The sweep to hold against the paper when a report holds several (e.g. the rules at every
    value and the learning agents at a few): the one with the most agents, then the most values."""
    sweeps = [e for e in experiments if e.sweep == sweep]
    return max(sweeps, key=lambda e: (len(e.agents), e.data.sizes[sweep]), default=None)


def _in_range(claim: Claim, values: list[float]) -> list[float]:
    low = claim.params.get("min_value", -np.inf)
    high = claim.params.get("max_value", np.inf)
    return [v for v in values if low <= v <= high]


def _range_text(claim: Claim) -> str:
    low, high = claim.params.get("min_value"), claim.params.get("max_value")
    if low is None:
        return f"t_max ≤ {high:g} s"
    if high is None:
        return f"t_max ≥ {low:g} s"
    return f"t_max {low:g}-{high:g} s"


def _range_missing(claim: Claim) -> str:
    low, high = claim.params.get("min_value"), claim.params.get("max_value")
    if low is not None and high is not None:
        return f"Cannot be checked: no t_max in {low:g}..{high:g} s in the sweep."
    return f"Cannot be checked: no {_range_text(claim)} in the sweep."


def _nothing_completes(claim: Claim, exp: Experiment) -> tuple[str, ...]:
    completion = _sweep_means(exp, "completion_rate")
    short = _in_range(claim, sorted(next(iter(completion.values()))))
    if not short:
        return _claim_row(claim.key, "", "n/a", _range_missing(claim))
    agent, value = max(
        ((a, v) for a in completion for v in short), key=lambda av: completion[av[0]][av[1]]
    )
    top = completion[agent][value]
    where = _range_text(claim)
    ours = f"highest mean completion at {where}: {fmt(top)} ({agent}, {value:g} s)"
    verdict = (
        "Consistent: no agent completes a task."
        if top <= claim.params["threshold"]
        else f"Does not hold: some tasks complete at {where} here."
    )
    return _claim_row(claim.key, "all", ours, verdict)


def _exactly_these_exceed(claim: Claim, exp: Experiment) -> tuple[str, ...]:
    completion = _sweep_means(exp, "completion_rate")
    middle = _in_range(claim, sorted(next(iter(completion.values()))))
    if not middle:
        return _claim_row(claim.key, "", "n/a", _range_missing(claim))
    threshold = claim.params["threshold"]
    peak = {a: max(completion[a][v] for v in middle) for a in completion}
    ours = f"highest mean completion at {_range_text(claim)}: " + "; ".join(
        f"{a} {fmt(p)}" for a, p in peak.items()
    )
    paper_methods = [a for a in exp.agents if is_paper_method(a)]
    expected = {a for method in claim.params["methods"] for a in _matches(exp, method)}
    above = {a for a in paper_methods if peak[a] > threshold}
    pct = f"{100 * threshold:g} %"
    if not paper_methods:
        verdict = "Cannot be checked: none of the paper's methods ran in this sweep."
    elif above == expected:
        names = " and ".join(
            "the active-inference agents" if x == "proposed" else x for x in claim.params["methods"]
        )
        verdict = f"Consistent: exactly {names} present exceed {pct}."
    else:
        extra, short_of = sorted(above - expected), sorted(expected - above)
        parts = [
            f"{', '.join(extra)} exceed {pct} too" if extra else "",
            f"{', '.join(short_of)} do not exceed {pct}" if short_of else "",
        ]
        verdict = "Does not hold: " + "; ".join(p for p in parts if p) + "."
    return _claim_row(claim.key, "paper's methods present", ours, verdict)


def _only_proposed_reaches(claim: Claim, exp: Experiment) -> tuple[str, ...]:
    completion = _sweep_means(exp, "completion_rate")
    long = _in_range(claim, sorted(next(iter(completion.values()))))
    if not long:
        return _claim_row(claim.key, "", "n/a", _range_missing(claim))
    threshold = claim.params["threshold"]
    peak = {a: max(completion[a][v] for v in long) for a in completion}
    reach = sorted(a for a, p in peak.items() if p >= threshold)
    ours = (
        f"agents reaching ≥ {100 * threshold:g} % mean completion at some "
        f"{_range_text(claim)}: " + (", ".join(reach) or "none")
    )
    aif = [a for a in reach if is_aif(a)]
    drl = [a for a in reach if is_paper_baseline(a)]
    if not m.aif_agents(exp):
        verdict = "Cannot be checked: no active-inference agent in this sweep."
    elif aif and not drl:
        verdict = "Consistent among the paper's methods present (rules and the oracle aside)."
    elif not aif:
        verdict = "Does not hold: no active-inference agent reaches ~100 %."
    else:
        verdict = f"Does not hold: {', '.join(drl)} reach ~100 % too."
    return _claim_row(claim.key, "paper's methods present", ours, verdict)


def _highest_at_every_value(claim: Claim, exp: Experiment) -> tuple[str, ...]:
    reward = _sweep_means(exp, claim.params["metric"])
    loads = sorted(next(iter(reward.values())))
    best = m.best_aif_agent(exp)
    baselines = [a for a in exp.agents if is_paper_baseline(a)]
    if best is None or not baselines:
        missing = "active-inference agent" if best is None else "baseline of the paper"
        return _claim_row(claim.key, "", "n/a", f"Cannot be checked: no {missing} in this sweep.")
    lost = [f"{b} at {v:g} %" for v in loads for b in baselines if reward[b][v] >= reward[best][v]]
    others = [a for a in exp.agents if a != best and agent_family(a) != ORACLE]
    top_all = [v for v in loads if all(reward[best][v] > reward[a][v] for a in others)]
    ours = (
        f"{best}'s mean sum reward exceeds every paper baseline present ({', '.join(baselines)}) "
        f"at {len(loads) - len({x.split(' at ')[1] for x in lost})} of {len(loads)} loads; "
        f"it is the highest of all agents but the oracle and hindsight at {len(top_all)} of {len(loads)}"
    )
    verdict = (
        "Consistent." if not lost else f"Does not hold: {', '.join(lost)} scores at least as high."
    )
    return _claim_row(claim.key, best, ours, verdict)


def _falls_along_sweep(claim: Claim, exp: Experiment) -> tuple[str, ...]:
    loads = sorted(float(v) for v in exp.data[exp.sweep].values)
    if len(loads) < 2:
        return _claim_row(
            claim.key, "", "n/a", f"Cannot be checked: one load only ({loads[0]:g} %)."
        )
    falls, changes = [], []
    for metric in claim.params["metrics"]:
        means = _sweep_means(exp, metric)
        for agent in exp.agents:
            first, last = means[agent][loads[0]], means[agent][loads[-1]]
            changes.append(f"{agent} {SHORT_LABELS[metric]} {fmt(first)} → {fmt(last)}")
            if not last < first:
                falls.append(f"{agent} ({SHORT_LABELS[metric]})")
    ours = f"mean at {loads[0]:g} % → {loads[-1]:g} %: " + "; ".join(changes)
    verdict = (
        "Consistent: both fall for every agent."
        if not falls
        else f"Does not hold for: {', '.join(falls)}."
    )
    return _claim_row(claim.key, "all", ours, verdict)


def _above_at_highest_value(claim: Claim, exp: Experiment) -> tuple[str, ...]:
    up, down = (PAPER_BASELINES[claim.params[k]] for k in ("above", "below"))
    above = [a for a in exp.agents if base_name(a) == up]
    below = [a for a in exp.agents if base_name(a) == down]
    if not above or not below:
        why = f"Cannot be checked: needs both {up} and {down} in the load sweep."
        return _claim_row(claim.key, "", "n/a", why)
    reward = _sweep_means(exp, claim.params["metric"])
    loads = sorted(next(iter(reward.values())))
    s, p = above[0], below[0]
    ours = "; ".join(
        f"{v:g} %: {up} {fmt(reward[s][v])}, {down} {fmt(reward[p][v])}"
        for v in dict.fromkeys((loads[0], loads[-1]))
    )
    verdict = (
        f"Consistent: {up}'s sum reward is above {down}'s at the highest load."
        if reward[s][loads[-1]] > reward[p][loads[-1]]
        else f"Does not hold: {down}'s sum reward is at least {up}'s at the highest load."
    )
    return _claim_row(claim.key, f"{up} vs {down}", ours, verdict)


# ---- the load-step experiment ---------------------------------------------------------------


def _recovers_no_slower(claim: Claim, experiments: list[Experiment]) -> list[tuple[str, ...]]:
    adaptation = next((e for e in experiments if e.schedule and e.sweep is None), None)
    if adaptation is None:
        why = "no load-step experiment here (`aif-offload experiment adaptation`)"
        return [_claim_row(claim.key, "", "n/a", f"Cannot be checked: {why}.")]
    best = m.best_aif_agent(adaptation)
    if best is None:
        why = "no active-inference agent in the load-step experiment"
        return [_claim_row(claim.key, "", "n/a", f"Cannot be checked: {why}.")]
    step = adaptation.schedule[0][0]
    drl = [a for a in adaptation.agents if is_paper_baseline(a)]
    median = {a: _median(m.recovery(adaptation, a, step)) for a in [best, *drl]}
    ours = "episodes to recover after the load step (median): " + "; ".join(
        f"{a} {'never' if v is None else fmt(v)}" for a, v in median.items()
    )
    if median[best] is None:
        verdict = f"Does not hold: {best} does not settle after the step within the run."
    elif not drl:
        verdict = (
            f"Cannot be checked against deep RL: {best} recovers, but no deep-RL baseline of the "
            "paper ran in the load-step experiment."
        )
    else:
        faster = [a for a in drl if median[a] is not None and median[a] < median[best]]
        verdict = (
            f"Consistent: {best} recovers no slower than every deep-RL baseline."
            if not faster
            else f"Does not hold: {', '.join(faster)} recover sooner."
        )
    return [_claim_row(claim.key, best, ours, verdict)]


# Kinds of check: on each Fig. 3 comparison, on the richest sweep of a parameter, on the lot.
COMPARISON_CHECKS: dict[str, Callable] = {
    "settles_within": _settles_within,
    "smoother_than_baselines": _smoother_than_baselines,
    "settles_no_later_than_baselines": _settles_no_later,
}
SWEEP_CHECKS: dict[str, Callable] = {
    "nothing_completes": _nothing_completes,
    "exactly_these_exceed": _exactly_these_exceed,
    "only_proposed_reaches": _only_proposed_reaches,
    "highest_at_every_value": _highest_at_every_value,
    "falls_along_sweep": _falls_along_sweep,
    "above_at_highest_value": _above_at_highest_value,
}
EXPERIMENT_CHECKS: dict[str, Callable] = {
    "recovers_no_slower_than_baselines": _recovers_no_slower,
}
CHECKS = {**COMPARISON_CHECKS, **SWEEP_CHECKS, **EXPERIMENT_CHECKS}
_SWEEP_COMMANDS = {"t_max_s": "deadline", "load_percent": "load"}
_SWEEP_NAMES = {"t_max_s": "deadline sweep", "load_percent": "load sweep"}


def claim_rows(claim: Claim, experiments: list[Experiment]) -> list[tuple[str, ...]]:
    """The rows of one ``[[claims]]`` entry."""
    if claim.check in COMPARISON_CHECKS:
        found, reason = fig3_experiments(experiments)
        if not found:
            return [_claim_row(claim.key, "", "n/a", f"Cannot be checked: {reason}.")]
        check = COMPARISON_CHECKS[claim.check]
        return [row for exp in found for row in check(claim, exp, len(found) > 1)]
    if claim.check in SWEEP_CHECKS:
        sweep = claim.params["sweep"]
        exp = _richest_sweep(experiments, sweep)
        if exp is None:
            why = (
                f"Cannot be checked: no {_SWEEP_NAMES[sweep]} here "
                f"(`aif-offload experiment {_SWEEP_COMMANDS[sweep]}`)."
            )
            return [_claim_row(claim.key, "", "n/a", why)]
        return [SWEEP_CHECKS[claim.check](claim, exp)]
    return EXPERIMENT_CHECKS[claim.check](claim, experiments)


def _rows_of(figure: str, experiments: list[Experiment]) -> list[tuple[str, ...]]:
    return [
        row for c in CLAIMS.values() if c.figure == figure for row in claim_rows(c, experiments)
    ]


def fig3_rows(experiments: list[Experiment]) -> list[tuple[str, ...]]:
    return number_rows(experiments) + _rows_of(FIG3, experiments)


def fig4_rows(experiments: list[Experiment]) -> list[tuple[str, ...]]:
    return _rows_of(FIG4, experiments)


def fig5_rows(experiments: list[Experiment]) -> list[tuple[str, ...]]:
    return _rows_of(FIG5, experiments)


def headline_rows(experiments: list[Experiment]) -> list[tuple[str, ...]]:
    return _rows_of(HEADLINE_CLAIMS, experiments)


def paper_vs_ours(experiments: list[Experiment]) -> list[tuple[str, ...]]:
    """Every reported number and claim of the paper against what these results show (the
    experiments on the ``paper`` scenario only: see ``on_paper_scenario``)."""
    mine = [e for e in experiments if on_paper_scenario(e)]
    return [*fig3_rows(mine), *fig4_rows(mine), *fig5_rows(mine), *headline_rows(mine)]
