"""Figures of the agents' beliefs against the simulator's truth, and of their free energies.

Inputs are per-file scores from ``aif_offload.diagnostics.beliefs`` stacked over the run files of
one agent (one file per seed), so bands are 95 % bootstrap intervals over seeds. Episodes are
numbered from 1; the dotted line marks where held-out evaluation episodes begin.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from aif_offload.diagnostics.calibration import reliability
from aif_offload.diagnostics.comparison import bootstrap_band
from aif_offload.report.style import agent_color, episode_axis, legend_below, new_figure

_SERVER_COLORS = ("#000000", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")
_FREE_ENERGY_LABELS = {
    "mean_vfe": "VFE per step (nats)",
    "mean_surprise": "outcome surprise per step (nats)",
    "svi_loss": "SVI loss, −ELBO (nats)",
}


def _band(ax, x, values, color, label, *, linestyle="-") -> None:
    mean, low, high = bootstrap_band(values)
    ax.plot(x, mean, color=color, label=label, linewidth=1.3, linestyle=linestyle)
    if values.shape[0] > 1:
        ax.fill_between(x, low, high, color=color, alpha=0.15, linewidth=0)


def _mark_evaluation(ax, training_episodes: int | None, episodes: int) -> None:
    if training_episodes is not None and training_episodes < episodes:
        ax.axvline(training_episodes + 0.5, color="0.5", linestyle=":", linewidth=1.0)


def load_belief_scores_over_training(scores: xr.Dataset, training_episodes: int | None) -> Figure:
    """Brier score, log score and entropy of the load belief of every server, per episode.

    ``scores`` has dims (file, episode, server); the naive Brier scores (uniform belief, base rate)
    are drawn dashed for reference.
    """
    fig, axes = new_figure(3, columns=3, panel_size=(3.8, 3.0))
    x = scores.episode.values + 1
    for ax, key, label in zip(
        axes,
        ("brier", "log_score", "entropy"),
        ("Brier score (0 best, 2 worst)", "log score (nats)", "entropy (nats)"),
        strict=True,
    ):
        for k, server in enumerate(scores.server.values):
            values = scores[key].sel(server=server).transpose("file", "episode").values
            _band(ax, x, values, _SERVER_COLORS[k % len(_SERVER_COLORS)], f"load of {server}")
        if key == "brier":
            for naive, style in (("brier_uniform", "--"), ("brier_base_rate", ":")):
                values = scores[naive].mean("server").transpose("file", "episode").values
                name = "uniform belief" if naive == "brier_uniform" else "base-rate belief"
                _band(ax, x, values, "0.55", name, linestyle=style)
        _mark_evaluation(ax, training_episodes, x.size)
        episode_axis(ax, "episode")
        ax.set_ylabel(label)
    legend_below(fig, axes)
    return fig


def load_belief_reliability(by_agent: dict[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Reliability diagram of the load beliefs: predicted probability vs observed frequency.

    ``by_agent`` maps an agent to (probabilities (n, levels), true levels (n,)) pooled over files;
    marker area follows the number of predictions in the bin.
    """
    fig, (ax, counts) = new_figure(2, columns=2, panel_size=(4.0, 3.4))
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1, label="calibrated")
    for agent, (p, level) in by_agent.items():
        table = reliability(p, level, bins=10)
        used = table["count"] > 0
        color = agent_color(agent)
        ax.plot(table["predicted"][used], table["observed"][used], "-", color=color, label=agent)
        size = 8 + 60 * table["count"][used] / max(table["count"].max(), 1)
        ax.scatter(table["predicted"][used], table["observed"][used], s=size, color=color)
        counts.bar(
            table["bin_low"] + 0.05, table["count"], width=0.09, color=color, alpha=0.6, label=agent
        )
    ax.set_xlabel("predicted probability of a load level")
    ax.set_ylabel("observed frequency of that level")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    counts.set_xlabel("predicted probability (bin)")
    counts.set_ylabel("predictions in bin")
    counts.set_yscale("log")
    legend_below(fig, [ax])
    return fig


def hidden_factor_entropy_over_training(
    entropies: xr.Dataset, training_episodes: int | None
) -> Figure:
    """Entropy of the belief over each non-load hidden factor, per episode (dims file, episode)."""
    names = list(entropies.data_vars)
    fig, (ax,) = new_figure(1, panel_size=(6.0, 3.2))
    x = entropies.episode.values + 1
    for k, name in enumerate(names):
        values = entropies[name].transpose("file", "episode").values
        _band(ax, x, values, _SERVER_COLORS[(k + 1) % len(_SERVER_COLORS)], name)
    _mark_evaluation(ax, training_episodes, x.size)
    episode_axis(ax, "episode")
    ax.set_ylabel("belief entropy (nats)")
    legend_below(fig, [ax])
    return fig


def load_interval_coverage_over_training(
    by_agent: dict[str, xr.Dataset], training_episodes: int | None
) -> Figure:
    """Coverage of the 50 % and 90 % belief intervals of the latent load, and CRPS, per episode.

    ``by_agent`` maps an agent to scores with dims (file, episode, server); servers are averaged.
    Dashed lines: the nominal coverage a calibrated belief has.
    """
    fig, axes = new_figure(3, columns=3, panel_size=(3.8, 3.0))
    for agent, scores in by_agent.items():
        x = scores.episode.values + 1
        color = agent_color(agent)
        for ax, key in zip(axes, ("coverage_50", "coverage_90", "crps"), strict=True):
            values = scores[key].mean("server").transpose("file", "episode").values
            _band(ax, x, values, color, agent)
            _mark_evaluation(ax, training_episodes, x.size)
    for ax, nominal in zip(axes[:2], (0.5, 0.9), strict=True):
        ax.axhline(nominal, color="0.4", linestyle="--", linewidth=1, label="nominal coverage")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(f"coverage of {round(100 * nominal)} % interval")
    axes[2].set_ylabel("CRPS (load fraction)")
    for ax in axes:
        episode_axis(ax, "episode")
    legend_below(fig, axes)
    return fig


def free_energy_over_training(data: xr.Dataset, keys: list[str]) -> Figure:
    """Per-episode free-energy statistics the agents report in results.nc (training episodes)."""
    fig, axes = new_figure(len(keys), columns=min(len(keys), 3), panel_size=(3.8, 3.0))
    x = data.episode.values + 1
    for ax, key in zip(axes, keys, strict=True):
        for agent in data.agent.values:
            values = data[key].sel(agent=agent).transpose("seed", "episode").values
            if np.isfinite(values).any():
                _band(ax, x, values, agent_color(str(agent)), str(agent))
        episode_axis(ax, "training episode")
        ax.set_ylabel(_FREE_ENERGY_LABELS.get(key, key))
    legend_below(fig, axes)
    return fig


def efe_terms_over_training(
    by_agent: dict[str, xr.Dataset], training_episodes: int | None
) -> Figure:
    """Risk and information gain of the expected free energy per episode, one row per agent.

    Each agent has its own scale (the discrete and the continuous models measure the terms in
    different units), so agents do not share axes.
    """
    agents = list(by_agent)
    fig, axes = new_figure(2 * len(agents), columns=2, panel_size=(4.2, 2.6))
    for row, agent in enumerate(agents):
        terms = by_agent[agent]
        x = terms.episode.values + 1
        for ax, key, label in zip(
            axes[2 * row : 2 * row + 2],
            ("risk", "info_gain"),
            ("risk (extrinsic term)", "information gain (epistemic term)"),
            strict=True,
        ):
            values = terms[key].transpose("file", "episode").values
            _band(ax, x, values, agent_color(agent), agent)
            _mark_evaluation(ax, training_episodes, x.size)
            ax.set_title(f"{agent}: {label}", fontsize=9)
            episode_axis(ax, "episode")
            ax.set_ylabel("mean per step")
    return fig
