"""Per-episode metrics from the per-task info of a vector environment (the paper's eqs. 9 and 14).

Tail latency: ``p50_latency_s``, ``p95_latency_s``, ``p99_latency_s`` are percentiles of the
latencies of the episode's completed tasks (NumPy's default linear interpolation between order
statistics, ``numpy.percentile(method="linear")``); NaN if no task completed. With 100 tasks p99
lies between the two slowest completed tasks.
"""

from __future__ import annotations

import numpy as np

from aif_offload.sim.outcome import FAILURE_REASONS

LATENCY_PERCENTILES = (50, 95, 99)
METRICS = (
    "completion_rate",
    "mean_latency_s",
    "p50_latency_s",
    "p95_latency_s",
    "p99_latency_s",
    "mean_accuracy",
    "sum_reward",
    "utility",
    "mean_transmission_s",
    "mean_propagation_s",
    "mean_queueing_s",
    "mean_compute_s",
    "tasks",
)
METRIC_DOCS = {
    "completion_rate": "completed tasks / issued tasks",
    "mean_latency_s": "mean latency of completed tasks (s); NaN if none completed",
    "p50_latency_s": "median latency of completed tasks (s, linear interpolation); NaN if none",
    "p95_latency_s": "95th percentile of the latency of completed tasks (s); NaN if none",
    "p99_latency_s": "99th percentile of the latency of completed tasks (s); NaN if none",
    "mean_accuracy": "mean pass@100 over issued tasks, a failed task scoring 0",
    "sum_reward": "sum of the eq. 14 reward over the episode",
    "utility": "eq. 9: 1 / mean_latency_s + mean_accuracy (0 latency term if none completed)",
    "mean_transmission_s": "mean transmission time of completed tasks (s)",
    "mean_propagation_s": "mean propagation time of completed tasks (s)",
    "mean_queueing_s": "mean queueing time of completed tasks (s)",
    "mean_compute_s": "mean compute time of completed tasks (s)",
    "tasks": "tasks issued in the episode",
}


class EpisodeAccumulator:
    """Sums per-task facts of B environments until their episodes end."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.clear()

    def clear(self) -> None:
        b = self.batch_size
        self.tasks = np.zeros(b)
        self.completed = np.zeros(b)
        self.reward = np.zeros(b)
        self.accuracy = np.zeros(b)
        self.parts = {
            k: np.zeros(b)
            for k in ("latency_s", "transmission_s", "propagation_s", "queueing_s", "compute_s")
        }
        self.failures = np.zeros((b, len(FAILURE_REASONS)))
        self.latencies: list[np.ndarray] = []  # per step (B,), NaN where the task failed

    def add(self, reward: np.ndarray, info: dict[str, np.ndarray]) -> None:
        done = np.asarray(info["completed"], dtype=bool)
        self.tasks += 1
        self.completed += done
        self.reward += reward
        self.accuracy += info["accuracy"]
        for key, total in self.parts.items():
            total += np.where(done, info[key], 0.0)
        self.latencies.append(np.where(done, np.asarray(info["latency_s"], float), np.nan))
        np.add.at(self.failures, (np.arange(self.batch_size), np.asarray(info["failure"], int)), 1)

    def latency_percentiles(self) -> np.ndarray:
        """(B, 3) p50 / p95 / p99 of the completed tasks' latencies; NaN for a row with none."""
        out = np.full((self.batch_size, len(LATENCY_PERCENTILES)), np.nan)
        if not self.latencies:
            return out
        latencies = np.stack(self.latencies, axis=1)  # (B, steps)
        for row, values in enumerate(latencies):
            done = values[np.isfinite(values)]
            if done.size:
                out[row] = np.percentile(done, LATENCY_PERCENTILES)
        return out

    def summary(self) -> dict[str, np.ndarray]:
        """Metrics of the finished episodes, one value per environment."""
        with np.errstate(invalid="ignore", divide="ignore"):
            per_done = {k: v / self.completed for k, v in self.parts.items()}
        mean_latency = per_done["latency_s"]
        mean_accuracy = self.accuracy / self.tasks
        latency_term = np.where(
            self.completed > 0, 1.0 / np.where(self.completed > 0, mean_latency, 1.0), 0.0
        )
        tails = self.latency_percentiles()
        return {
            "completion_rate": self.completed / self.tasks,
            "mean_latency_s": mean_latency,
            **{f"p{q}_latency_s": tails[:, k] for k, q in enumerate(LATENCY_PERCENTILES)},
            "mean_accuracy": mean_accuracy,
            "sum_reward": self.reward.copy(),
            "utility": latency_term + mean_accuracy,
            "mean_transmission_s": per_done["transmission_s"],
            "mean_propagation_s": per_done["propagation_s"],
            "mean_queueing_s": per_done["queueing_s"],
            "mean_compute_s": per_done["compute_s"],
            "tasks": self.tasks.copy(),
            "failures": self.failures.copy(),
        }


def stack_rows(
    per_row: list[list[dict[str, np.ndarray]]], episodes: int
) -> list[dict[str, np.ndarray]]:
    """Per-row lists of batch-1 episode summaries -> per-episode summaries over rows (B, ...)."""
    return [
        {key: np.stack([row[e][key][0] for row in per_row]) for key in per_row[0][e]}
        for e in range(episodes)
    ]
