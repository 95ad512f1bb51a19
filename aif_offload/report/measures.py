"""The numbers a report states about one experiment, each with its interval over seeds.

Shared by the sections and by the paper-vs-ours table so that a number means the same everywhere:
``held_out`` is the mean over held-out evaluation episodes (training episodes if none were run),
``end_of_training`` the mean of the last five training episodes (where a Fig. 3 curve ends).
"""

from __future__ import annotations

import numpy as np

from aif_offload.diagnostics.comparison import final_level, per_seed
from aif_offload.diagnostics.statistics import (
    Estimate,
    bootstrap_ci,
    episodes_to_fraction_of_final,
    recovery_episodes,
)
from aif_offload.report.families import is_aif
from aif_offload.report.sources import Experiment

HEADLINE = ("completion_rate", "mean_latency_s", "mean_accuracy", "utility", "sum_reward")
FINAL_WINDOW = 5


def seed_values(
    exp: Experiment, metric: str, agent: str, *, value: float | None = None
) -> np.ndarray:
    """Per-seed held-out values of ``metric`` (at one swept ``value`` in a sweep)."""
    values = per_seed(exp.data, metric).sel(agent=agent)
    if exp.sweep is not None:
        values = values.sel({exp.sweep: value})
    return np.asarray(values.values, dtype=float).ravel()


def held_out(
    exp: Experiment, metric: str, agent: str, *, value: float | None = None, statistic="mean"
) -> Estimate:
    return bootstrap_ci(seed_values(exp, metric, agent, value=value), statistic)


def end_of_training(exp: Experiment, metric: str, agent: str) -> Estimate:
    values = final_level(exp.data, metric, window=FINAL_WINDOW).sel(agent=agent)
    return bootstrap_ci(np.asarray(values.values, dtype=float).ravel())


def episodes_to_95(
    exp: Experiment, agent: str, metric: str = "completion_rate"
) -> list[int | None]:
    """Per seed: training episodes until the curve settles at 95 % of its final level."""
    curves = exp.data[metric].sel(agent=agent).transpose("seed", "episode").values
    return [episodes_to_fraction_of_final(c, final_window=FINAL_WINDOW) for c in curves]


def recovery(exp: Experiment, agent: str, step_episode: int) -> list[int | None]:
    """Per seed: episodes after the load step until completion settles at 95 % of its new level."""
    curves = exp.data["completion_rate"].sel(agent=agent).transpose("seed", "episode").values
    return [recovery_episodes(c, step_episode, final_window=FINAL_WINDOW) for c in curves]


def median_or_never(values: list[int | None]) -> str:
    """Median over the seeds that got there, with how many did; ``never`` if none did."""
    reached = [v for v in values if v is not None]
    if not reached:
        return "never"
    text = f"{np.median(reached):g}"
    if len(reached) < len(values):
        text += f" ({len(reached)} of {len(values)} seeds; the others never)"
    return text


def aif_agents(exp: Experiment) -> list[str]:
    return [a for a in exp.agents if is_aif(a)]


def best_aif_agent(exp: Experiment) -> str | None:
    """The active-inference agent with the highest mean held-out sum reward (eq. 14, the paper's
    score) averaged over the sweep if any; None without one."""
    candidates = aif_agents(exp)
    if not candidates:
        return None
    score = per_seed(exp.data, "sum_reward")
    means = {a: float(np.nanmean(score.sel(agent=a).values)) for a in candidates}
    return max(
        candidates, key=lambda a: (np.nan_to_num(means[a], nan=-np.inf), -candidates.index(a))
    )
