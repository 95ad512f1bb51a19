"""Deep RL towards its asymptote: a JAX agent's held-out completion against training env steps.

One agent (``ppo-jax`` by default) trains on every seed together, in one run that stops at each
checkpoint (``--checkpoints``, in environment steps per seed) to be evaluated on the runner's
held-out workloads (``EVAL_SEED_OFFSET``, ``--eval-episodes`` episodes per seed, the frozen policy
as ``run_agent`` evaluates it) and then trains on. Written: a netCDF (completion and sum reward per
checkpoint and seed, the training curve's completion per episode, provenance) and a figure of
held-out completion against environment steps on a log axis; printed: a Markdown table of mean
[95 % bootstrap interval over seeds] per checkpoint.

Run ``nice -n 10 python -m aif_offload.analysis.drl_asymptote --scenario paper --seeds 10
--checkpoints 10000,100000,1000000,2000000 --out runs/asymptote``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

from aif_offload.agents.jax_rl import build
from aif_offload.diagnostics.statistics import bootstrap_ci
from aif_offload.experiment.results import provenance
from aif_offload.experiment.runner import EVAL_SEED_OFFSET, _env, _play_episode
from aif_offload.experiment.storage import write_atomic
from aif_offload.scenarios import load_scenario


def held_out(agent, scenario, seeds: list[int], episodes: int) -> dict[str, np.ndarray]:
    """Mean over ``episodes`` held-out evaluation episodes, per seed (what ``run_agent`` does)."""
    agent.freeze()
    env, observation = _env(scenario, seeds, EVAL_SEED_OFFSET)
    runs = []
    for _ in range(episodes):
        summary, observation, _ = _play_episode(env, agent, observation, on_step=None)
        runs.append(summary)
    return {k: np.mean([r[k] for r in runs], axis=0) for k in ("completion_rate", "sum_reward")}


def _steps(text: str) -> list[int]:
    values = sorted({int(float(x)) for x in text.split(",") if x})
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"checkpoints: positive step counts, got '{text}'")
    return values


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent", default="ppo-jax")
    parser.add_argument("--scenario", default="paper")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--checkpoints", type=_steps, default=_steps("10000,100000,1000000"))
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("runs/asymptote"))
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.eval_episodes < 1:
        parser.exit(2, "seeds, eval-episodes: must be >= 1\n")
    try:
        scenario = load_scenario(args.scenario)
        agent = build(args.agent, scenario, list(range(args.seeds)))
    except ValueError as error:
        parser.exit(2, f"{error}\n")
    tasks = scenario.episode.num_tasks
    per_round = agent.n_envs * tasks
    for steps in args.checkpoints:
        if steps % per_round:
            parser.exit(2, f"checkpoints: {steps} is not a multiple of {per_round} steps\n")
    seeds = list(range(args.seeds))
    completion, reward, curve, walls = [], [], [], []
    done_steps, started = 0, time.perf_counter()
    for steps in args.checkpoints:
        episodes = (steps - done_steps) // tasks
        last_print = [time.perf_counter()]

        def progress(start=done_steps, counter=[0], last_print=last_print) -> None:  # noqa: B006
            counter[0] += 1
            if time.perf_counter() - last_print[0] > 30:
                last_print[0] = time.perf_counter()
                at = start + counter[0] * tasks
                print(f"  training: {at:,} env steps per seed", file=sys.stderr, flush=True)

        # One budget for every call: the same compiled trainer throughout (and DQN's exploration
        # spread over the whole run).
        agent.train_more(
            scenario,
            episodes,
            n_envs=agent.n_envs,
            on_episode=progress,
            total_episodes=args.checkpoints[-1] // tasks,
        )
        curve.extend(e["completion_rate"] for e in agent._last_curve)
        done_steps = steps
        result = held_out(agent, scenario, seeds, args.eval_episodes)
        completion.append(result["completion_rate"])
        reward.append(result["sum_reward"])
        walls.append(time.perf_counter() - started)
        print(
            f"{steps:>10,} steps: held-out completion {bootstrap_ci(result['completion_rate'])}"
            f"  ({walls[-1]:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
        _save(args, argv, scenario, agent, seeds, completion, reward, walls, curve)

    stem = args.out / f"{args.agent}-{args.scenario}"
    print(f"| env steps per seed | {args.agent} held-out completion | wall (s) |")
    print("|---|---|---|")
    for k, steps in enumerate(args.checkpoints):
        print(f"| {steps:,} | {bootstrap_ci(np.array(completion[k]))} | {walls[k]:.0f} |")
    print(f"wrote {stem}.nc and .png", file=sys.stderr)


def _save(args, argv, scenario, agent, seeds, completion, reward, walls, curve) -> None:
    """Write what is measured so far (after every checkpoint: a long run keeps its results)."""
    command = "python -m aif_offload.analysis.drl_asymptote " + shlex.join(argv or sys.argv[1:])
    attrs = provenance(scenario, {args.agent: {"n_envs": agent.n_envs}}, command)
    data = xr.Dataset(
        {
            "eval_completion_rate": (("env_steps", "seed"), np.array(completion)),
            "eval_sum_reward": (("env_steps", "seed"), np.array(reward)),
            "wall_s": (("env_steps",), np.array(walls)),
            "train_completion_rate": (("episode", "seed"), np.array(curve)),
        },
        coords={
            "env_steps": args.checkpoints[: len(completion)],
            "seed": seeds,
            "episode": np.arange(len(curve)),
        },
        attrs={**attrs, "agent": args.agent, "eval_episodes": str(args.eval_episodes)},
    )
    data["eval_completion_rate"].attrs["description"] = (
        "mean completion over the held-out evaluation episodes at each checkpoint"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.agent}-{args.scenario}"
    write_atomic(data, args.out / f"{stem}.nc")
    _figure(data, args.out / f"{stem}.png")


def _figure(data: xr.Dataset, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    steps = data["env_steps"].values
    values = data["eval_completion_rate"].values
    intervals = np.array([(e.low, e.high) for e in map(bootstrap_ci, values)])
    ax.plot(steps, values.mean(axis=1), marker="o", label=data.attrs["agent"])
    ax.fill_between(steps, intervals[:, 0], intervals[:, 1], alpha=0.25)
    ax.set_xscale("log")
    ax.set_xlabel("training environment steps per seed")
    ax.set_ylabel("held-out completion")
    ax.set_title(f"{data.attrs['scenario_name']}: {data.sizes['seed']} seeds, 95 % interval")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
