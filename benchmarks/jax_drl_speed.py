"""Training speed of JAX PPO (``ppo-jax``, 10 seeds vmapped) against SB3 PPO (``ppo``), one run.

JAX PPO trains all ``--seeds`` seeds together in one compiled call per chunk; the timed run
follows an untimed one of the same configuration, so compilation is not charged (its time is
reported separately). SB3's PPO trains one seed through the runner (the ``ppo`` agent's own code
path, as ``benchmarks/drl_speed.py``), after an untimed one-episode warm-up; seeds train one
after another there, so its rate is the same for one seed or ten. Both count environment steps
over all seeds trained, gradient updates included, evaluation excluded; the process CPU time of
each timed part is reported too (on shared cores it varies less with the load than wall time; XLA
may run more than one thread, so CPU time can exceed wall time).

Run ``python benchmarks/jax_drl_speed.py [--episodes 200] [--sb3-episodes 20] [--seeds 10]
[--json]``: a Markdown table with machine, load and date for ``docs/benchmarks.md``, or with
``--json`` one JSON object keyed by the table's rows.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time

from aif_offload.agents.jax_rl import build
from aif_offload.experiment.runner import run_agent
from aif_offload.scenarios import load_scenario


def _load() -> list[float]:
    return [round(x, 1) for x in os.getloadavg()]


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=_positive, default=200, help="JAX episodes per seed")
    parser.add_argument("--sb3-episodes", type=_positive, default=20, help="SB3 episodes")
    parser.add_argument("--seeds", type=_positive, default=10, help="JAX seeds trained together")
    parser.add_argument("--scenario", default="paper")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    try:
        scenario = load_scenario(args.scenario)
    except ValueError as error:
        parser.exit(2, f"{error}\n")
    tasks = scenario.episode.num_tasks
    seeds = list(range(args.seeds))
    started = datetime.datetime.now(datetime.UTC)
    load_before = _load()

    start = time.perf_counter()
    build("ppo-jax", scenario, seeds).train_more(scenario, args.episodes)
    first_call = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    build("ppo-jax", scenario, [s + 100 for s in seeds]).train_more(scenario, args.episodes)
    jax_wall, jax_cpu = time.perf_counter() - start, time.process_time() - cpu
    jax_steps = args.seeds * args.episodes * tasks

    run_agent("ppo", scenario, [0], 1)  # warm-up: torch and SB3 imports, the first model
    start, cpu = time.perf_counter(), time.process_time()
    run_agent("ppo", scenario, [0], args.sb3_episodes)
    sb3_wall, sb3_cpu = time.perf_counter() - start, time.process_time() - cpu
    sb3_steps = args.sb3_episodes * tasks

    jax_rate, sb3_rate = jax_steps / jax_wall, sb3_steps / sb3_wall
    result = {
        "date": f"{started:%Y-%m-%d %H:%M} UTC",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_before": load_before,
        "load_after": _load(),
        "scenario": args.scenario,
        "ppo_jax_seeds": args.seeds,
        "ppo_jax_env_steps": jax_steps,
        "ppo_jax_wall_s": round(jax_wall, 2),
        "ppo_jax_env_steps_per_s": round(jax_rate),
        "ppo_jax_cpu_s": round(jax_cpu, 2),
        "ppo_jax_env_steps_per_cpu_s": round(jax_steps / jax_cpu),
        "ppo_jax_first_call_s": round(first_call, 1),
        "sb3_ppo_env_steps": sb3_steps,
        "sb3_ppo_wall_s": round(sb3_wall, 2),
        "sb3_ppo_env_steps_per_s": round(sb3_rate),
        "sb3_ppo_cpu_s": round(sb3_cpu, 2),
        "sb3_ppo_env_steps_per_cpu_s": round(sb3_steps / sb3_cpu),
        "ratio_jax_over_sb3": round(jax_rate / sb3_rate, 1),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['date']}, {result['machine']}, load average (1, 5, 15 min) {load_before} "
        f"before and {result['load_after']} after; scenario {args.scenario}\n"
    )
    print("| trainer | seeds | env steps | wall (s) | env steps/s | CPU (s) | env steps/CPU-s |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| `ppo-jax` (rejax, vmapped) | {args.seeds} | {jax_steps:,} | {jax_wall:.1f} | "
        f"{jax_rate:,.0f} | {jax_cpu:.1f} | {jax_steps / jax_cpu:,.0f} |"
    )
    print(
        f"| `ppo` (SB3, 5 envs) | 1 | {sb3_steps:,} | {sb3_wall:.1f} | {sb3_rate:,.0f} | "
        f"{sb3_cpu:.1f} | {sb3_steps / sb3_cpu:,.0f} |"
    )
    print(
        f"\nratio JAX / SB3: {jax_rate / sb3_rate:.1f}; JAX first call (compile + run): "
        f"{first_call:.1f} s"
    )


if __name__ == "__main__":
    main()
