"""The latency distribution per agent, added to the comparison section.

Per-task records (``--task-records``) give the whole distribution: an empirical CDF per agent
and a table of pooled percentiles (over seeds and the episodes of the phase the comparison uses),
and the share of tasks per server. Without records the per-episode p50 / p95 / p99 of
``results.nc`` are shown (mean over seeds with a 95 % bootstrap interval).
"""

from __future__ import annotations

import numpy as np

from aif_offload.diagnostics.task_records import load_task_records
from aif_offload.report import figures_latency as fl
from aif_offload.report import measures as m
from aif_offload.report.document import Section, Table, fmt, fmt_estimate, n_seeds
from aif_offload.report.sources import Experiment
from aif_offload.report.style import FigureSink

TAILS = tuple(f"p{q}_latency_s" for q in fl.PERCENTILES)


def _from_records(exp: Experiment, records, section: Section, sink: FigureSink) -> None:
    phase = "eval" if exp.evaluated and (records["phase"] == "eval").any() else "train"
    mine = records[(records["phase"] == phase) & records["agent"].isin(exp.agents)]
    agents = [a for a in exp.agents if (mine["agent"] == a).any()]
    if not agents:
        section.say(f"{exp.label}: the task records hold no {phase} tasks of these agents.")
        return
    done = mine[mine["completed"].astype(bool)]
    latencies = {a: done.loc[done["agent"] == a, "latency_s"].to_numpy(float) for a in agents}
    rows = []
    for agent in agents:
        values = latencies[agent]
        cells = [
            fmt(float(np.percentile(values, q))) if values.size else "n/a" for q in (50, 95, 99)
        ]
        issued = int((mine["agent"] == agent).sum())
        rows.append((agent, str(issued), str(values.size), *cells))
    what = "held-out evaluation" if phase == "eval" else "training"
    seeds = mine["seed"].nunique()
    section.add(
        Table(
            f"Latency of completed tasks per agent from the per-task records ({what} episodes, "
            f"pooled over seeds and episodes; percentiles by linear interpolation). "
            f"{n_seeds(seeds)}.",
            ("agent", "tasks", "completed", "p50 (s)", "p95 (s)", "p99 (s)"),
            tuple(rows),
        ),
        sink.save(
            fl.latency_ecdf(latencies, exp.t_max_s),
            f"{exp.label}-latency_ecdf",
            f"Empirical CDF of the latency of completed tasks per agent ({what} episodes, "
            f"pooled over seeds; dashed: the deadline). {n_seeds(seeds)}.",
            "latency distribution per agent",
        ),
        sink.save(
            fl.server_shares(mine, agents, [s["name"] for s in exp.scenario.get("servers", [])]),
            f"{exp.label}-server_shares",
            f"Share of each agent's tasks sent to each server ({what} episodes, pooled over "
            f"seeds). {n_seeds(seeds)}.",
            "tasks per server per agent",
        ),
    )


def _from_results(exp: Experiment, section: Section, sink: FigureSink) -> None:
    if not all(k in exp.data for k in TAILS):
        section.say(
            f"{exp.label}: results.nc has no latency percentiles (written by an older version); "
            "re-run to get p50 / p95 / p99, or add `--task-records` for the whole distribution."
        )
        return
    estimates = {
        a: {q: m.held_out(exp, k, a) for q, k in zip(fl.PERCENTILES, TAILS, strict=True)}
        for a in exp.agents
    }
    rows = tuple((a, *(fmt_estimate(e) for e in est.values())) for a, est in estimates.items())
    section.add(
        Table(
            "Latency percentiles of completed tasks per agent: the mean over seeds of the "
            "per-episode p50 / p95 / p99 (results.nc), 95 % bootstrap intervals over seeds. "
            f"{n_seeds(exp.seeds)}. `--task-records` gives the whole distribution.",
            ("agent", "p50 (s)", "p95 (s)", "p99 (s)"),
            rows,
        ),
        sink.save(
            fl.percentile_ranges(estimates),
            f"{exp.label}-latency_percentiles",
            "Per-episode latency percentiles of completed tasks per agent (mean over seeds and "
            f"95 % bootstrap interval). {n_seeds(exp.seeds)}.",
            "latency percentiles per agent",
        ),
    )


def add_latency(section: Section, experiments: list[Experiment], sink: FigureSink) -> None:
    """The latency distribution of every comparison (no sweep, no load step)."""
    for exp in experiments:
        if not exp.is_comparison:
            continue
        section.heading(f"Latency distribution: {exp.label}")
        records = load_task_records(exp.directory)
        if records is not None and len(records):
            _from_records(exp, records, section, sink)
        else:
            _from_results(exp, section, sink)
