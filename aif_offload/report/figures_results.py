"""Figures of the results files: learning curves, sweeps, the load step, comparison statistics.

One function per figure, named after what it shows; each returns a matplotlib Figure (Agg) and
draws the mean over seeds with its 95 % bootstrap band shaded, one colour per agent.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from aif_offload.diagnostics.comparison import bootstrap_band, per_seed
from aif_offload.diagnostics.statistics import Estimate, performance_profile
from aif_offload.report.style import (
    METRIC_LABELS,
    SHORT_LABELS,
    SWEEP_LABELS,
    agent_color,
    episode_axis,
    legend_below,
    new_figure,
)


def _band(ax, x: np.ndarray, values: np.ndarray, agent: str, *, marker: str | None = None) -> None:
    """Mean over seeds (axis 0) and its shaded 95 % bootstrap band against ``x``."""
    mean, low, high = bootstrap_band(values)
    color = agent_color(agent)
    ax.plot(x, mean, color=color, label=agent, marker=marker, markersize=3, linewidth=1.4)
    if values.shape[0] > 1:
        ax.fill_between(x, low, high, color=color, alpha=0.18, linewidth=0)


def learning_curves_by_episode(data: xr.Dataset, metrics: tuple[str, ...]) -> Figure:
    """Training metrics against the training episode, one panel per metric."""
    fig, axes = new_figure(len(metrics), columns=2)
    episode = data.episode.values + 1
    for ax, metric in zip(axes, metrics, strict=True):
        for agent in data.agent.values:
            curves = data[metric].sel(agent=agent).transpose("seed", "episode").values
            _band(ax, episode, curves, str(agent))
        episode_axis(ax, "training episode")
        ax.set_ylabel(METRIC_LABELS[metric])
    legend_below(fig, axes)
    return fig


def learning_curves_by_env_steps(data: xr.Dataset, metrics: tuple[str, ...]) -> Figure:
    """Training metrics against cumulative environment steps (mean over seeds of the step count)."""
    fig, axes = new_figure(len(metrics), columns=2)
    for ax, metric in zip(axes, metrics, strict=True):
        for agent in data.agent.values:
            steps = data["env_steps"].sel(agent=agent).transpose("seed", "episode").values
            x = np.nanmean(steps, axis=0) if np.isfinite(steps).any() else data.episode.values
            curves = data[metric].sel(agent=agent).transpose("seed", "episode").values
            _band(ax, x, curves, str(agent))
        ax.set_xlabel("environment steps (training)")
        ax.set_ylabel(METRIC_LABELS[metric])
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    legend_below(fig, axes)
    return fig


def metrics_vs_sweep(data: xr.Dataset, sweep: str, metrics: tuple[str, ...]) -> Figure:
    """Per-seed metrics (evaluation if recorded) against the swept parameter, one panel each."""
    fig, axes = new_figure(len(metrics), columns=2 if len(metrics) == 4 else len(metrics))
    x = data[sweep].values
    for ax, metric in zip(axes, metrics, strict=True):
        values = per_seed(data, metric)
        for agent in data.agent.values:
            _band(
                ax,
                x,
                values.sel(agent=agent).transpose("seed", sweep).values,
                str(agent),
                marker="o",
            )
        ax.set_xlabel(SWEEP_LABELS[sweep])
        ax.set_ylabel(METRIC_LABELS[metric])
    legend_below(fig, axes)
    return fig


def completion_around_load_step(
    data: xr.Dataset,
    step_episode: int,
    load_before: float | None,
    load_after: float,
    shift_label: str | None = None,
) -> Figure:
    """Training completion per episode with the episode of the load step (or world shift) marked."""
    fig, (ax,) = new_figure(1, panel_size=(7.0, 3.4))
    episode = data.episode.values + 1
    for agent in data.agent.values:
        curves = data["completion_rate"].sel(agent=agent).transpose("seed", "episode").values
        _band(ax, episode, curves, str(agent), marker="o")
    before = f"{load_before:g} %" if load_before is not None else "base load"
    label = shift_label or f"load step {before} → {load_after:g} %"
    ax.axvline(step_episode + 0.5, color="0.3", linestyle="--", linewidth=1.0, label=label)
    episode_axis(ax, "training episode")
    ax.set_ylabel(METRIC_LABELS["completion_rate"])
    legend_below(fig, [ax])
    return fig


def performance_profiles(scores: dict[str, dict[str, np.ndarray]]) -> Figure:
    """Fraction of seeds scoring above each threshold (rliable's score distribution), per metric.

    ``scores`` maps a metric to per-agent arrays of per-seed values. The band is a 95 % bootstrap
    over seeds.
    """
    fig, axes = new_figure(len(scores), columns=2)
    for ax, (metric, by_agent) in zip(axes, scores.items(), strict=True):
        finite = np.concatenate([v[np.isfinite(v)] for v in by_agent.values()])
        if finite.size == 0:
            continue
        span = max(float(finite.max() - finite.min()), 1e-9)
        thresholds = np.linspace(finite.min() - 0.05 * span, finite.max() + 0.05 * span, 200)
        rng = np.random.default_rng(0)
        for agent, values in by_agent.items():
            values = values[np.isfinite(values)]
            if values.size == 0:
                continue
            profile = performance_profile(values, thresholds)
            color = agent_color(agent)
            ax.plot(thresholds, profile, color=color, label=agent, linewidth=1.4)
            if values.size > 1:
                draws = np.stack(
                    [
                        performance_profile(rng.choice(values, values.size), thresholds)
                        for _ in range(500)
                    ]
                )
                low, high = np.percentile(draws, [2.5, 97.5], axis=0)
                ax.fill_between(thresholds, low, high, color=color, alpha=0.15, linewidth=0)
        ax.set_xlabel(f"threshold τ on {METRIC_LABELS[metric]}")
        ax.set_ylabel("fraction of seeds with score > τ")
        ax.set_ylim(-0.02, 1.02)
    legend_below(fig, axes)
    return fig


def probability_of_improvement_chart(rows: list[tuple[str, str, Estimate]], metric: str) -> Figure:
    """P(candidate beats baseline on a random seed) with 95 % intervals, one row per pair."""
    height = max(2.2, 0.32 * len(rows) + 1.0)
    fig, (ax,) = new_figure(1, panel_size=(7.0, height))
    for i, (candidate, _, estimate) in enumerate(rows):
        y = len(rows) - 1 - i
        color = agent_color(candidate)
        ax.plot([estimate.low, estimate.high], [y, y], color=color, linewidth=3, alpha=0.5)
        ax.plot([estimate.value], [y], "o", color=color, markersize=5)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{c} vs {b}" for c, b, _ in reversed(rows)])
    ax.axvline(0.5, color="0.4", linestyle=":", linewidth=1)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(f"P({SHORT_LABELS[metric]} of candidate > baseline) on a random seed")
    ax.grid(axis="y", alpha=0)
    return fig
