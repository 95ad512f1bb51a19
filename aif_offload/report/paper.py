"""The paper's reported results as data, and the sentences that compare ours with them.

Source: He, Fang, Yu, Leung, IEEE TMC 23(12):11253-11264, 2024, as digested in the project's
PAPER.md, section 5 ("Experiments and what they found"). The paper gives no tables, seeds or
intervals: every number is read off a figure ("~"), so a number is matched within a stated
tolerance. "proposed" is the paper's method; here it is matched with each active-inference agent,
and the best of them (highest held-out sum reward) is marked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aif_offload.diagnostics.comparison import curve_jitter
from aif_offload.diagnostics.statistics import Estimate
from aif_offload.report import measures as m
from aif_offload.report.document import fmt, fmt_estimate
from aif_offload.report.families import (
    PAPER_BASELINES,
    base_name,
    is_aif,
    is_paper_baseline,
    is_paper_method,
    learns,
)
from aif_offload.report.sources import Experiment
from aif_offload.report.style import SHORT_LABELS

SOURCE = "PAPER.md §5"
FIG3 = "Fig. 3: training, t_max 15 s, load 100 %"
FIG4 = "Fig. 4: deadline sweep, t_max 1..15 s"
FIG5 = "Fig. 5: load sweep, 100..200 %"
HEADLINE_CLAIMS = "headline claims"
CONVERGENCE_EPISODES = 200  # "proposed method converges in about 200 episodes"


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


# PAPER.md §5, Training (Fig. 3).
PAPER_NUMBERS = (
    PaperNumber(FIG3, "completion_rate", "proposed", 0.99, 0.05),
    PaperNumber(FIG3, "completion_rate", "PPO", 0.90, 0.05),
    PaperNumber(FIG3, "completion_rate", "Rainbow DQN", 0.85, 0.05),
    PaperNumber(FIG3, "completion_rate", "SAC", 0.80, 0.05),
    PaperNumber(FIG3, "mean_latency_s", "proposed", 8.0, 1.0),
    PaperNumber(FIG3, "mean_latency_s", "Rainbow DQN", 8.0, 1.0),
    PaperNumber(FIG3, "mean_latency_s", "PPO", 8.0, 1.0),
    PaperNumber(FIG3, "mean_latency_s", "SAC", 10.0, 1.0),
    PaperNumber(FIG3, "mean_accuracy", "proposed", 0.175, 0.015),
    PaperNumber(FIG3, "mean_accuracy", "Rainbow DQN", 0.15, 0.015),
    PaperNumber(FIG3, "mean_accuracy", "PPO", 0.15, 0.015),
    PaperNumber(FIG3, "mean_accuracy", "SAC", 0.14, 0.015),
)

# PAPER.md §5: the qualitative findings, in the paper's words as digested there.
PAPER_CLAIMS = {
    "converges": (FIG3, "the proposed method converges in about 200 episodes"),
    "smooth": (FIG3, "DRL latency curves jitter, the proposed method's is smooth"),
    "short_deadline": (FIG4, "t_max ≤ 2 s: nothing completes"),
    "cloud_cap": (
        FIG4,
        "t_max 3-9 s: only the cloud is fast enough, completion capped near 20 %; only the "
        "proposed method and Rainbow DQN exceed 20 %",
    ),
    "long_deadline": (FIG4, "t_max ≥ 10 s: only the proposed method reaches ~100 % completion"),
    "highest_reward": (FIG5, "the proposed method has the highest sum reward at every load"),
    "falls_with_load": (FIG5, "completion and pass@100 fall with load for all methods"),
    "sac_overtakes": (FIG5, "SAC overtakes PPO at high load"),
    "data_efficiency": (HEADLINE_CLAIMS, "better data efficiency than DRL"),
    "adapts": (HEADLINE_CLAIMS, "adapts to load changes"),
}

HEADER = ("paper", "claim or number", "paper", "agent here", "ours", "verdict")


def _row(figure: str, claim: str, paper: str, agent: str, ours: str, verdict: str):
    return (figure, claim, paper, agent, ours, verdict)


def _claim_row(key: str, agent: str, ours: str, verdict: str):
    figure, text = PAPER_CLAIMS[key]
    return _row(figure, text, "reported", agent, ours, verdict)


def fig3_experiments(experiments: list[Experiment]) -> tuple[list[Experiment], str]:
    """The experiments to hold against Fig. 3 (``training`` first, then any comparison at t_max
    15 s and load 100 %), or none and the reason."""
    comparisons = [e for e in experiments if e.is_comparison]
    found = [e for e in comparisons if e.name == "training"]
    found += [
        e for e in comparisons if e not in found and e.t_max_s == 15 and e.load_percent == 100
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


def fig3_rows(experiments: list[Experiment]) -> list[tuple[str, ...]]:
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
            rows.append(
                _row(
                    number.figure,
                    claim,
                    number.text,
                    "",
                    "n/a",
                    f"Cannot be checked: no {_method_agent(number.method)} agent in {where}.",
                )
            )
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
    if not found:
        for key in ("converges", "smooth"):
            rows.append(_claim_row(key, "", "n/a", f"Cannot be checked: {reason}."))
    for exp in found:
        rows.extend(_convergence_rows(exp, len(found) > 1))
        rows.extend(_smoothness_rows(exp, len(found) > 1))
    return rows


def _in(exp: Experiment, several: bool) -> str:
    return f" in {exp.label}" if several else ""


def _convergence_rows(exp: Experiment, several: bool) -> list[tuple[str, ...]]:
    best = m.best_aif_agent(exp)
    if best is None:
        return [
            _claim_row(
                "converges",
                "",
                "n/a",
                f"Cannot be checked: no active-inference agent{_in(exp, several)}.",
            )
        ]
    reach = m.episodes_to_95(exp, best)
    ours = f"episodes to 95 % of final completion (median over seeds): {m.median_or_never(reach)}"
    if exp.episodes < CONVERGENCE_EPISODES:
        verdict = (
            f"Cannot be checked: our run has {_episodes(exp.episodes)} of training, fewer than the "
            f"paper's ~{CONVERGENCE_EPISODES}; 'final' here is the level after {exp.episodes}."
        )
    else:
        reached = [r for r in reach if r is not None]
        if reached and np.median(reached) <= 1.25 * CONVERGENCE_EPISODES:
            verdict = "Consistent: it settles within about 200 episodes."
        else:
            verdict = "Does not hold: it settles later than about 200 episodes, or never."
    return [_claim_row("converges", best + _in(exp, several), ours, verdict)]


def _smoothness_rows(exp: Experiment, several: bool) -> list[tuple[str, ...]]:
    if exp.episodes < 3:
        return [
            _claim_row(
                "smooth", "", "n/a", f"Cannot be checked: fewer than 3 episodes{_in(exp, several)}."
            )
        ]

    def jitter(agent: str) -> float:
        curves = exp.data["mean_latency_s"].sel(agent=agent).transpose("seed", "episode").values
        return float(np.nanmean([curve_jitter(c) for c in curves]))

    best = m.best_aif_agent(exp)
    drl = [a for a in exp.agents if is_paper_baseline(a)]
    if best is None or not drl:
        missing = "active-inference agent" if best is None else "deep-RL baseline of the paper"
        return [
            _claim_row("smooth", "", "n/a", f"Cannot be checked: no {missing}{_in(exp, several)}.")
        ]
    ours = "; ".join(f"{a}: {fmt(jitter(a))} s" for a in [best, *drl])
    ours = "mean |change| of latency between consecutive episodes: " + ours
    smoother = all(jitter(best) < jitter(a) for a in drl)
    verdict = (
        f"Consistent: {best}'s latency curve moves less between episodes than every deep-RL curve."
        if smoother
        else f"Does not hold: some deep-RL latency curve is smoother than {best}'s."
    )
    return [_claim_row("smooth", best + _in(exp, several), ours, verdict)]


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


def fig4_rows(experiments: list[Experiment]) -> list[tuple[str, ...]]:
    exp = _richest_sweep(experiments, "t_max_s")
    keys = ("short_deadline", "cloud_cap", "long_deadline")
    if exp is None:
        return [
            _claim_row(
                k,
                "",
                "n/a",
                "Cannot be checked: no deadline sweep here (`aif-offload experiment deadline`).",
            )
            for k in keys
        ]
    completion = _sweep_means(exp, "completion_rate")
    values = sorted(next(iter(completion.values())))
    rows = []
    short = [v for v in values if v <= 2]
    if not short:
        rows.append(
            _claim_row(keys[0], "", "n/a", "Cannot be checked: no t_max ≤ 2 s in the sweep.")
        )
    else:
        agent, value = max(
            ((a, v) for a in completion for v in short), key=lambda av: completion[av[0]][av[1]]
        )
        top = completion[agent][value]
        ours = f"highest mean completion at t_max ≤ 2 s: {fmt(top)} ({agent}, {value:g} s)"
        verdict = (
            "Consistent: no agent completes a task."
            if top <= 0.01
            else "Does not hold: some tasks complete at t_max ≤ 2 s here."
        )
        rows.append(_claim_row(keys[0], "all", ours, verdict))
    middle = [v for v in values if 3 <= v <= 9]
    if not middle:
        rows.append(
            _claim_row(keys[1], "", "n/a", "Cannot be checked: no t_max in 3..9 s in the sweep.")
        )
    else:
        peak = {a: max(completion[a][v] for v in middle) for a in completion}
        ours = "highest mean completion at t_max 3-9 s: " + "; ".join(
            f"{a} {fmt(p)}" for a, p in peak.items()
        )
        paper_methods = [a for a in exp.agents if is_paper_method(a)]
        expected = {a for a in paper_methods if is_aif(a) or base_name(a) == "rainbow-dqn"}
        above = {a for a in paper_methods if peak[a] > 0.2}
        if not paper_methods:
            verdict = "Cannot be checked: none of the paper's methods ran in this sweep."
        elif above == expected:
            verdict = "Consistent: exactly the active-inference agents and Rainbow DQN present exceed 20 %."
        else:
            extra, short_of = sorted(above - expected), sorted(expected - above)
            parts = [
                f"{', '.join(extra)} exceed 20 % too" if extra else "",
                f"{', '.join(short_of)} do not exceed 20 %" if short_of else "",
            ]
            verdict = "Does not hold: " + "; ".join(p for p in parts if p) + "."
        rows.append(_claim_row(keys[1], "paper's methods present", ours, verdict))
    long = [v for v in values if v >= 10]
    if not long:
        rows.append(
            _claim_row(keys[2], "", "n/a", "Cannot be checked: no t_max ≥ 10 s in the sweep.")
        )
    else:
        peak = {a: max(completion[a][v] for v in long) for a in completion}
        reach = sorted(a for a, p in peak.items() if p >= 0.95)
        ours = "agents reaching ≥ 95 % mean completion at some t_max ≥ 10 s: " + (
            ", ".join(reach) or "none"
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
        rows.append(_claim_row(keys[2], "paper's methods present", ours, verdict))
    return rows


def fig5_rows(experiments: list[Experiment]) -> list[tuple[str, ...]]:
    exp = _richest_sweep(experiments, "load_percent")
    keys = ("highest_reward", "falls_with_load", "sac_overtakes")
    if exp is None:
        return [
            _claim_row(
                k,
                "",
                "n/a",
                "Cannot be checked: no load sweep here (`aif-offload experiment load`).",
            )
            for k in keys
        ]
    reward = _sweep_means(exp, "sum_reward")
    loads = sorted(next(iter(reward.values())))
    rows = []
    best = m.best_aif_agent(exp)
    baselines = [a for a in exp.agents if is_paper_baseline(a)]
    if best is None or not baselines:
        missing = "active-inference agent" if best is None else "baseline of the paper"
        rows.append(
            _claim_row(keys[0], "", "n/a", f"Cannot be checked: no {missing} in this sweep.")
        )
    else:
        lost = [
            f"{b} at {v:g} %" for v in loads for b in baselines if reward[b][v] >= reward[best][v]
        ]
        others = [a for a in exp.agents if a != best and base_name(a) != "oracle"]
        top_all = [v for v in loads if all(reward[best][v] > reward[a][v] for a in others)]
        ours = (
            f"{best}'s mean sum reward exceeds every paper baseline present ({', '.join(baselines)}) "
            f"at {len(loads) - len({x.split(' at ')[1] for x in lost})} of {len(loads)} loads; "
            f"it is the highest of all agents but the oracle at {len(top_all)} of {len(loads)}"
        )
        verdict = (
            "Consistent."
            if not lost
            else f"Does not hold: {', '.join(lost)} scores at least as high."
        )
        rows.append(_claim_row(keys[0], best, ours, verdict))
    if len(loads) < 2:
        rows.append(
            _claim_row(keys[1], "", "n/a", f"Cannot be checked: one load only ({loads[0]:g} %).")
        )
    else:
        rows.append(_falls_with_load_row(exp, loads))
    sac = [a for a in exp.agents if base_name(a) == "sac"]
    ppo = [a for a in exp.agents if base_name(a) == "ppo"]
    if not sac or not ppo:
        rows.append(
            _claim_row(
                keys[2], "", "n/a", "Cannot be checked: needs both sac and ppo in the load sweep."
            )
        )
    else:
        s, p = sac[0], ppo[0]
        ours = "; ".join(
            f"{v:g} %: sac {fmt(reward[s][v])}, ppo {fmt(reward[p][v])}"
            for v in dict.fromkeys((loads[0], loads[-1]))
        )
        verdict = (
            "Consistent: sac's sum reward is above ppo's at the highest load."
            if reward[s][loads[-1]] > reward[p][loads[-1]]
            else "Does not hold: ppo's sum reward is at least sac's at the highest load."
        )
        rows.append(_claim_row(keys[2], "sac vs ppo", ours, verdict))
    return rows


def _falls_with_load_row(exp: Experiment, loads: list[float]) -> tuple[str, ...]:
    falls, changes = [], []
    for metric in ("completion_rate", "mean_accuracy"):
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
    return _claim_row("falls_with_load", "all", ours, verdict)


def _data_efficiency_rows(exp: Experiment, several: bool) -> list[tuple[str, ...]]:
    best = m.best_aif_agent(exp)
    drl = [a for a in exp.agents if is_paper_baseline(a)]
    if best is None or not drl:
        missing = "active-inference agent" if best is None else "deep-RL baseline of the paper"
        return [
            _claim_row(
                "data_efficiency", "", "n/a", f"Cannot be checked: no {missing} in {exp.label}."
            )
        ]
    median = {a: _median(m.episodes_to_95(exp, a)) for a in [best, *drl]}
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
    return [_claim_row("data_efficiency", best + _in(exp, several), ours, verdict)]


def _adaptation_rows(experiments: list[Experiment]) -> list[tuple[str, ...]]:
    adaptation = next((e for e in experiments if e.schedule and e.sweep is None), None)
    if adaptation is None:
        why = "no load-step experiment here (`aif-offload experiment adaptation`)"
        return [_claim_row("adapts", "", "n/a", f"Cannot be checked: {why}.")]
    best = m.best_aif_agent(adaptation)
    if best is None:
        why = "no active-inference agent in the load-step experiment"
        return [_claim_row("adapts", "", "n/a", f"Cannot be checked: {why}.")]
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
    return [_claim_row("adapts", best, ours, verdict)]


def headline_rows(experiments: list[Experiment]) -> list[tuple[str, ...]]:
    found, reason = fig3_experiments(experiments)
    rows = []
    if not found:
        rows.append(_claim_row("data_efficiency", "", "n/a", f"Cannot be checked: {reason}."))
    for exp in found:
        rows.extend(_data_efficiency_rows(exp, len(found) > 1))
    return rows + _adaptation_rows(experiments)


def _median(values: list[int | None]) -> float | None:
    reached = [v for v in values if v is not None]
    if not reached or len(reached) * 2 < len(values):  # most seeds never got there
        return None
    return float(np.median(reached))


def paper_vs_ours(experiments: list[Experiment]) -> list[tuple[str, ...]]:
    """Every reported number and claim of the paper against what these results show."""
    return [
        *fig3_rows(experiments),
        *fig4_rows(experiments),
        *fig5_rows(experiments),
        *headline_rows(experiments),
    ]
