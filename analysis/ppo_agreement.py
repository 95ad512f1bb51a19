"""Do SB3's PPO (``ppo``) and JAX PPO (``ppo-jax``) agree at equal budget and hyperparameters?

Both train through the runner (``run_agent``, all seeds in one call: ``ppo-jax`` vmaps them, SB3
trains them one after another) for ``--episodes`` episodes per seed on ``--scenario`` and are then
evaluated on the same held-out workloads. Printed: a Markdown table of held-out completion and sum
reward, mean [95 % bootstrap interval over seeds], the difference of the means with its interval
(bootstrap over seeds of the two independent samples) and the wall time of each. What the two
libraries cannot make equal is listed in docs/baselines.md.

Run ``nice -n 10 python -m aif_offload.analysis.ppo_agreement --episodes 100 --seeds 10``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from aif_offload.diagnostics.statistics import bootstrap_ci
from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario

AGENTS = ("ppo", "ppo-jax")
METRICS = ("completion_rate", "sum_reward")


def difference_ci(a: np.ndarray, b: np.ndarray, resamples: int = 5000) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of mean(a) - mean(b), seeds resampled within each."""
    rng = np.random.default_rng(0)
    da = rng.choice(a, (resamples, a.size)).mean(axis=1)
    db = rng.choice(b, (resamples, b.size)).mean(axis=1)
    low, high = np.percentile(da - db, [2.5, 97.5])
    return float(low), float(high)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="paper")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--eval-episodes", type=int, default=10)
    args = parser.parse_args(argv)
    if min(args.seeds, args.episodes, args.eval_episodes) < 1:
        parser.exit(2, "seeds, episodes, eval-episodes: must be >= 1\n")
    scenario = load_scenario(args.scenario)
    seeds = list(range(args.seeds))
    held_out, walls = {}, {}
    for name in AGENTS:
        start = time.perf_counter()
        runs = run_agent(name, scenario, seeds, args.episodes, eval_episodes=args.eval_episodes)
        walls[name] = time.perf_counter() - start
        held_out[name] = {m: np.array([r.eval_metrics[m].mean() for r in runs]) for m in METRICS}
        per_seed = {m: v.round(4).tolist() for m, v in held_out[name].items()}
        print(f"{name}: {walls[name]:.0f} s, per seed {per_seed}", file=sys.stderr, flush=True)
    steps = args.episodes * scenario.episode.num_tasks
    print(
        f"{args.scenario}, {args.seeds} seeds, {args.episodes} training episodes ({steps:,} env "
        f"steps) per seed, {args.eval_episodes} held-out episodes\n"
    )
    print("| metric | " + " | ".join(f"`{n}`" for n in AGENTS) + " | ppo-jax - ppo |")
    print("|---|" + "---|" * (len(AGENTS) + 1))
    for metric in METRICS:
        cells = []
        for name in AGENTS:
            cells.append(str(bootstrap_ci(held_out[name][metric])))
        a, b = held_out["ppo-jax"][metric], held_out["ppo"][metric]
        low, high = difference_ci(a, b)
        cells.append(f"{a.mean() - b.mean():+.3f} [{low:+.3f}, {high:+.3f}]")
        print(f"| {metric} | " + " | ".join(cells) + " |")
    print("| wall time (s) | " + " | ".join(f"{walls[n]:.0f}" for n in AGENTS) + " | |")


if __name__ == "__main__":
    main()
