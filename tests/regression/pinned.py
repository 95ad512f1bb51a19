"""The numbers the ``paper`` regression test pins, and the script that wrote them.

Run ``python -m tests.regression.pinned`` only to re-pin after a change that is *meant* to alter
``paper`` (none is allowed today: ``paper`` is the paper's system and its numbers are fixed).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario

PINNED_FILE = Path(__file__).with_name("paper_numbers.json")
AGENTS = ("random", "round-robin", "cloud-only", "edge-only", "greedy", "oracle")
SCENARIOS = ("paper", "azure-conv")
SEEDS = (0, 1, 2)
EPISODES = 2
EVAL_EPISODES = 1
METRICS = ("completion_rate", "mean_latency_s", "mean_accuracy", "sum_reward")


def measure() -> dict[str, dict[str, dict[str, list[float]]]]:
    """scenario -> agent -> 'seed/phase/metric' -> per-episode values, as repr-exact floats."""
    numbers: dict[str, dict[str, dict[str, list[float]]]] = {}
    for scenario_name in SCENARIOS:
        scenario = load_scenario(scenario_name)
        per_agent = {}
        for agent in AGENTS:
            runs = run_agent(agent, scenario, SEEDS, EPISODES, eval_episodes=EVAL_EPISODES)
            table = {}
            for run in runs:
                for phase, metrics in (("train", run.metrics), ("eval", run.eval_metrics)):
                    for metric in METRICS:
                        values = np.asarray(metrics[metric], dtype=float)
                        table[f"{run.seed}/{phase}/{metric}"] = [float(v) for v in values]
            per_agent[agent] = table
        numbers[scenario_name] = per_agent
    return numbers


if __name__ == "__main__":
    PINNED_FILE.write_text(json.dumps(measure(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {PINNED_FILE}")
