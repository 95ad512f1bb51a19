"""Sections built from results.nc: comparison, improvement, Fig. 3, Fig. 4, Fig. 5, adaptation,
provenance. Each function takes every experiment of the report and returns one Section; when the
data for it are absent the section says, in one sentence, which command produces them."""

from __future__ import annotations

import json

import numpy as np

from aif_offload.diagnostics.statistics import bootstrap_ci, probability_of_improvement_ci
from aif_offload.report import figures_results as fr
from aif_offload.report import measures as m
from aif_offload.report.document import Details, Section, Table, fmt_estimate, n_seeds
from aif_offload.report.families import agent_family
from aif_offload.report.sources import Experiment
from aif_offload.report.style import (
    LOWER_IS_BETTER,
    SHORT_LABELS,
    FigureSink,
)

CURVE_METRICS = ("completion_rate", "mean_latency_s", "mean_accuracy", "sum_reward")
SWEEP_METRICS = {
    "t_max_s": ("completion_rate", "mean_latency_s", "mean_accuracy"),
    "load_percent": ("completion_rate", "mean_latency_s", "mean_accuracy", "sum_reward"),
}
MIN_SEEDS_FOR_CLAIMS = 10


def _phase(exp: Experiment) -> str:
    if exp.evaluated:
        n = exp.eval_episodes
        return f"held-out evaluation ({n} episode{'s' if n != 1 else ''} per seed, frozen agent)"
    n = exp.episodes
    return (
        f"training ({n} episode{'s' if n != 1 else ''} per seed; no evaluation episodes were run)"
    )


def _seeds_note(exp: Experiment) -> str:
    n = exp.seeds
    if n < MIN_SEEDS_FOR_CLAIMS:
        return (
            f"n = {n} seeds: a smoke-sized run; the project's conventions ask for at least "
            f"{MIN_SEEDS_FOR_CLAIMS} seeds before an interval supports a claim."
        )
    return f"{n_seeds(n)}."


def _comparisons(experiments: list[Experiment]) -> list[Experiment]:
    return [e for e in experiments if e.is_comparison]


def comparison_section(experiments: list[Experiment]) -> Section:
    section = Section("comparison")
    found = _comparisons(experiments)
    if not found:
        section.say(
            "No comparison without a sweep in this directory: `aif-offload compare` (or "
            "`aif-offload experiment training`) produces one."
        )
        return section
    for exp in found:
        section.heading(exp.setting())
        header = ("agent", "family", "statistic", *(SHORT_LABELS[k] for k in m.HEADLINE))
        rows = []
        for agent in exp.agents:
            for statistic in ("mean", "iqm"):
                cells = [
                    fmt_estimate(m.held_out(exp, k, agent, statistic=statistic)) for k in m.HEADLINE
                ]
                name = "IQM" if statistic == "iqm" else "mean"
                rows.append((agent, agent_family(agent), name, *cells))
        section.add(
            Table(
                f"Per agent: mean and interquartile mean (IQM) over seeds of the per-seed "
                f"{_phase(exp)} averages, with 95 % percentile-bootstrap intervals over seeds "
                f"(with one task per run the stratified bootstrap is the bootstrap over seeds). "
                f"Latency counts completed tasks only. {_seeds_note(exp)}",
                header,
                tuple(rows),
            )
        )
    return section


def _improvement_rows(exp: Experiment, metric: str):
    out = []
    for candidate in m.aif_agents(exp):
        mine = m.seed_values(exp, metric, candidate)
        for baseline in exp.agents:
            if baseline in m.aif_agents(exp):
                continue
            theirs = m.seed_values(exp, metric, baseline)
            if metric in LOWER_IS_BETTER:
                mine_, theirs_ = -mine, -theirs
            else:
                mine_, theirs_ = mine, theirs
            out.append((candidate, baseline, probability_of_improvement_ci(mine_, theirs_)))
    return out


def improvement_section(experiments: list[Experiment], sink: FigureSink) -> Section:
    section = Section("improvement")
    found = _comparisons(experiments)
    if not found:
        section.say(
            "No comparison without a sweep in this directory: `aif-offload compare` produces one."
        )
        return section
    for exp in found:
        section.heading(exp.setting())
        if not m.aif_agents(exp):
            section.say(
                "No active-inference agent in this comparison: add `aif-pymdp`, `aif-pyro` or "
                "`aif-ensemble` to `--agents`."
            )
        elif len(exp.agents) == len(m.aif_agents(exp)):
            section.say("Every agent here is an active-inference agent: there is no baseline.")
        else:
            by_metric = {k: _improvement_rows(exp, k) for k in m.HEADLINE}
            pairs = by_metric[m.HEADLINE[0]]
            rows = tuple(
                (c, b, *(fmt_estimate(by_metric[k][i][2]) for k in m.HEADLINE))
                for i, (c, b, _) in enumerate(pairs)
            )
            section.add(
                Table(
                    "Probability that the active-inference agent beats the baseline on a seed "
                    "drawn at random, P(X > Y) + P(X = Y)/2 over per-seed "
                    f"{_phase(exp)} averages, with 95 % stratified-bootstrap intervals (the two "
                    "agents' seeds resampled apart); for latency, lower is better, so the "
                    f"probability is that of a lower latency. 0.5 means no difference. "
                    f"{_seeds_note(exp)}",
                    ("active inference", "baseline", *(SHORT_LABELS[k] for k in m.HEADLINE)),
                    rows,
                )
            )
            section.add(
                sink.save(
                    fr.probability_of_improvement_chart(by_metric["sum_reward"], "sum_reward"),
                    f"{exp.label}-probability_of_improvement",
                    "Probability of improvement in sum reward (eq. 14, the paper's score) of each "
                    "active-inference agent over each baseline: dot the estimate, bar the 95 % "
                    f"stratified-bootstrap interval; dotted line 0.5. {n_seeds(exp.seeds)}.",
                    "probability of improvement chart",
                )
            )
        scores = {
            k: {a: m.seed_values(exp, k, a) for a in exp.agents}
            for k in ("completion_rate", "sum_reward")
        }
        section.add(
            sink.save(
                fr.performance_profiles(scores),
                f"{exp.label}-performance_profiles",
                "Performance profiles: the fraction of seeds whose "
                f"{_phase(exp)} average exceeds each threshold, for completion rate and sum "
                f"reward; shaded: 95 % bootstrap band over seeds. Curves further right are "
                f"better. {n_seeds(exp.seeds)}.",
                "performance profiles",
            )
        )
    return section


def training_section(experiments: list[Experiment], sink: FigureSink) -> Section:
    section = Section("training")
    found = [e for e in _comparisons(experiments) if e.episodes >= 2]
    if not found:
        section.say(
            "No learning curves (a comparison with at least two training episodes): "
            "`aif-offload experiment training` produces them at the paper's t_max 15 s, load 100 %."
        )
        return section
    for exp in found:
        section.heading(exp.setting())
        section.add(
            sink.save(
                fr.learning_curves_by_episode(exp.data, CURVE_METRICS),
                f"{exp.label}-learning_curves_by_episode",
                "Learning curves: completion rate, mean latency of completed tasks, pass@100 and "
                "sum reward per training episode; line: mean over seeds, shaded: 95 % bootstrap "
                f"band over seeds. Paper Fig. 3 (t_max 15 s, load 100 %). {n_seeds(exp.seeds)}.",
                "learning curves per training episode",
            ),
            sink.save(
                fr.learning_curves_by_env_steps(exp.data, CURVE_METRICS),
                f"{exp.label}-learning_curves_by_env_steps",
                "The same learning curves against cumulative training environment steps (one "
                "step is one task decision; the x position is the mean over seeds). "
                f"{n_seeds(exp.seeds)}.",
                "learning curves per environment step",
            ),
        )
        rows = []
        for agent in exp.agents:
            reach = m.episodes_to_95(exp, agent)
            per_seed = ", ".join("never" if r is None else str(r) for r in reach)
            rows.append(
                (
                    agent,
                    m.median_or_never(reach),
                    per_seed,
                    fmt_estimate(m.end_of_training(exp, "completion_rate", agent)),
                )
            )
        section.add(
            Table(
                "Learning speed: training episodes until completion settles at 95 % of its final "
                f"level (the mean of the last {m.FINAL_WINDOW} episodes; curves smoothed over 5 "
                "episodes; counted from 1; 'never' if it has not settled by the end or the final "
                "level is 0). A flat curve (a rule) settles at once. The final level with its 95 % "
                f"bootstrap interval over seeds. {_seeds_note(exp)}",
                ("agent", "episodes to 95 % (median)", "per seed", "final completion"),
                tuple(rows),
            )
        )
    return section


def _sweep_table(exp: Experiment, metrics: tuple[str, ...]) -> Table:
    rows = []
    for agent in exp.agents:
        for value in exp.data[exp.sweep].values:
            cells = [fmt_estimate(m.held_out(exp, k, agent, value=value)) for k in metrics]
            rows.append((agent, f"{value:g}", *cells))
    return Table(
        f"Mean over seeds of the per-seed {_phase(exp)} averages at each value, with 95 % "
        f"bootstrap intervals over seeds. {_seeds_note(exp)}",
        ("agent", exp.sweep, *(SHORT_LABELS[k] for k in metrics)),
        tuple(rows),
        css_class="collapsed",
    )


def _sweep_section(
    experiments: list[Experiment], sink: FigureSink, sweep: str, section: Section, command: str
) -> Section:
    found = [e for e in experiments if e.sweep == sweep]
    if not found:
        section.say(f"No {sweep} sweep in this directory: `{command}` produces it.")
        return section
    metrics = SWEEP_METRICS[sweep]
    what = ", ".join(SHORT_LABELS[k] for k in metrics)
    for exp in found:
        section.heading(exp.setting())
        section.add(
            sink.save(
                fr.metrics_vs_sweep(exp.data, sweep, metrics),
                f"{exp.label}-metrics_vs_{sweep}",
                f"{what.capitalize()} against {sweep} ({_phase(exp)}); points: mean over seeds, "
                f"shaded: 95 % bootstrap band over seeds. {n_seeds(exp.seeds)}.",
                f"metrics against {sweep}",
            ),
            _sweep_table(exp, metrics),
        )
    return section


def deadline_section(experiments: list[Experiment], sink: FigureSink) -> Section:
    section = Section("deadline")
    return _sweep_section(experiments, sink, "t_max_s", section, "aif-offload experiment deadline")


def load_section(experiments: list[Experiment], sink: FigureSink) -> Section:
    section = Section("load")
    return _sweep_section(experiments, sink, "load_percent", section, "aif-offload experiment load")


def adaptation_section(experiments: list[Experiment], sink: FigureSink) -> Section:
    section = Section("adaptation")
    found = [e for e in experiments if e.schedule and e.sweep is None]
    if not found:
        section.say(
            "No adaptation experiment in this directory: `aif-offload experiment adaptation` "
            "produces one (a tenant surge on one edge, or a load step, half-way through training)."
        )
        return section
    for exp in found:
        step, load_after = exp.schedule[0]
        section.heading(exp.setting())
        section.add(
            sink.save(
                fr.completion_around_load_step(
                    exp.data, step, exp.load_percent, load_after, exp.shift_text(load_after)
                ),
                f"{exp.label}-completion_around_load_step",
                f"Completion rate per training episode around the step (dashed line: "
                f"{exp.shift_text(load_after)} from episode {step + 1} on); line: mean over "
                f"seeds, shaded: 95 % bootstrap band. {n_seeds(exp.seeds)}.",
                "completion around the load step",
            )
        )
        rows = []
        completion = exp.data["completion_rate"]
        for agent in exp.agents:
            curves = completion.sel(agent=agent).transpose("seed", "episode").values
            before = curves[:, max(0, step - m.FINAL_WINDOW) : step]
            after = curves[:, step : step + m.FINAL_WINDOW]
            reach = m.recovery(exp, agent, step)
            rows.append(
                (
                    agent,
                    fmt_estimate(bootstrap_ci(np.nanmean(before, axis=1))),
                    fmt_estimate(bootstrap_ci(np.nanmean(after, axis=1))),
                    m.median_or_never(reach),
                    ", ".join("never" if r is None else str(r) for r in reach),
                )
            )
        section.add(
            Table(
                f"Completion in the {m.FINAL_WINDOW} training episodes before and after the step "
                "(mean over seeds, 95 % bootstrap interval), and recovery: episodes after the "
                "step until completion stays at 95 % of its new final level (0: at once). "
                f"Evaluation episodes, if any, run after the shift. {_seeds_note(exp)}",
                ("agent", "before the step", "after the step", "recovery (median)", "per seed"),
                tuple(rows),
            )
        )
        if exp.episodes - step < 2 * m.FINAL_WINDOW:
            section.say(
                f"Only {exp.episodes - step} training episodes follow the step, so the 'new "
                "final level' is the mean of nearly the whole post-step segment and recovery "
                "times are lower bounds of little weight; run more episodes for a real test."
            )
    return section


def provenance_section(experiments: list[Experiment], notes: list[str]) -> Section:
    section = Section("provenance")
    rows = []
    for exp in experiments:
        attrs = exp.data.attrs
        rows.append(
            (
                exp.label,
                exp.name,
                str(attrs.get("command", "n/a")),
                str(attrs.get("created_utc", "n/a")),
                str(attrs.get("package_version", "n/a")),
                str(attrs.get("git_commit", "n/a")),
                str(attrs.get("run_versions", "n/a")),
            )
        )
    section.add(
        Table(
            "Where every experiment came from (from the attributes of its results.nc): the "
            "command, when its results were assembled, the package version and commit that "
            "assembled them, and every (version @ commit) that produced one of its runs.",
            ("experiment", "kind", "command", "created (UTC)", "version", "commit", "run versions"),
            tuple(rows),
        )
    )
    for exp in experiments:
        spec = exp.spec
        if spec is not None:
            text = json.dumps(
                {
                    "name": spec.name,
                    "agents": list(spec.agents),
                    "seeds": list(spec.seeds),
                    "episodes": spec.episodes,
                    "eval_episodes": spec.eval_episodes,
                    "sweep": spec.sweep,
                    "values": list(spec.values),
                    "schedule": [list(s) for s in spec.schedule],
                },
                indent=2,
            )
            section.add(Details(f"{exp.label}: experiment spec (experiment.json)", text))
        if exp.scenario:
            section.add(
                Details(
                    f"{exp.label}: scenario '{exp.scenario.get('name', '?')}' (resolved config)",
                    json.dumps(exp.scenario, indent=2),
                )
            )
        agents_json = exp.data.attrs.get("agents_json")
        if agents_json:
            try:
                pretty = json.dumps(json.loads(agents_json), indent=2)
            except json.JSONDecodeError:
                pretty = agents_json
            section.add(Details(f"{exp.label}: agent configurations", pretty))
    for note in notes:
        section.say(note)
    return section
