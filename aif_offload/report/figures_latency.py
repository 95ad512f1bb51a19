"""Figures of the latency distribution per agent and of the load each agent puts on the servers.

From per-task records (``*.tasks.nc``, ``--task-records``) when an experiment has them: the
empirical CDF of the latency of completed tasks and the share of tasks sent to each server.
Without records: the per-episode p50 / p95 / p99 of ``results.nc`` (mean over seeds, 95 %
bootstrap interval).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aif_offload.diagnostics.statistics import Estimate
from aif_offload.report.style import agent_color, legend_below, new_figure

PERCENTILES = (50, 95, 99)


def latency_ecdf(latencies: dict[str, np.ndarray], deadline_s: float | None) -> Figure:
    """Empirical CDF of completed-task latency per agent (log x), the deadline dashed."""
    fig, axes = new_figure(1, panel_size=(6.0, 3.4))
    ax = axes[0]
    for agent, values in latencies.items():
        values = np.sort(values[np.isfinite(values) & (values > 0)])
        if values.size:
            y = np.arange(1, values.size + 1) / values.size
            ax.step(values, y, where="post", color=agent_color(agent), label=agent, linewidth=1.3)
    if deadline_s:
        ax.axvline(deadline_s, color="black", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("latency of completed tasks (s, log scale)")
    ax.set_ylabel("fraction of completed tasks ≤ x")
    legend_below(fig, axes)
    return fig


def server_shares(records: pd.DataFrame, agents: list[str], servers: list[str]) -> Figure:
    """Share of each agent's tasks sent to each server (stacked bars)."""
    fig, axes = new_figure(1, panel_size=(6.0, 0.45 * len(agents) + 1.6))
    ax = axes[0]
    counts = (
        records.groupby(["agent", "server"]).size().unstack(fill_value=0).reindex(agents).fillna(0)
    )
    shares = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    left = np.zeros(len(agents))
    cmap = [f"C{k % 10}" for k in range(len(servers))]
    for k, server in enumerate(servers):
        width = shares[server].to_numpy() if server in shares else np.zeros(len(agents))
        ax.barh(agents, width, left=left, color=cmap[k], label=server)
        left += np.nan_to_num(width)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the agent's tasks")
    ax.invert_yaxis()
    legend_below(fig, axes)
    return fig


def percentile_ranges(estimates: dict[str, dict[int, Estimate]]) -> Figure:
    """Mean over seeds of the per-episode p50 / p95 / p99 latency per agent, with intervals."""
    agents = list(estimates)
    fig, axes = new_figure(1, panel_size=(6.0, 0.45 * len(agents) + 1.6))
    ax = axes[0]
    markers = {50: "o", 95: "s", 99: "^"}
    for row, agent in enumerate(agents):
        for q, est in estimates[agent].items():
            if not np.isfinite(est.value):
                continue
            ax.errorbar(
                est.value,
                row,
                xerr=[[est.value - est.low], [est.high - est.value]],
                fmt=markers[q],
                color=agent_color(agent),
                markersize=5,
                capsize=2,
                label=f"p{q}",
            )
    ax.set_yticks(range(len(agents)), agents)
    ax.invert_yaxis()
    ax.set_xlabel("latency of completed tasks (s): p50 ○, p95 □, p99 △")
    return fig
