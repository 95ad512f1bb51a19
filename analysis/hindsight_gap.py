"""How far the myopic oracle is from the upper bound: ``hindsight``'s bound against the oracle.

On held-out evaluation workloads (one episode per seed, the runner's evaluation seeds), every agent
plays the same episodes; ``hindsight`` also reports its proven bounds. Printed: per scenario, mean
[95 % bootstrap interval over seeds] of hindsight's completion bound, its realised completion, each
other agent's completion, the oracle's gap to the bound (per seed, then averaged), the reward bound,
HiGHS's solve time and how many bounds are proven optimal for the relaxation.

Run ``python -m aif_offload.analysis.hindsight_gap --scenarios paper,paper-hidden --seeds 10``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from aif_offload.agents import EnvContext, make_agent
from aif_offload.diagnostics.statistics import bootstrap_ci
from aif_offload.experiment.runner import EVAL_SEED_OFFSET, _env, _play_episode
from aif_offload.scenarios import load_scenario


def held_out_episode(agent_name: str, scenario, seeds: list[int]) -> dict[str, np.ndarray]:
    """One held-out evaluation episode of every seed (what ``run_agent`` evaluates on)."""
    env, observation = _env(scenario, seeds, EVAL_SEED_OFFSET)
    context = EnvContext(
        env.scenario.nominal_view(), env.core.sim.action_nvec, env.core.layout, len(seeds)
    )
    agent = make_agent(agent_name, context, seeds=seeds)
    agent.freeze()
    summary, _, _ = _play_episode(env, agent, observation, on_step=None)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", default="paper,paper-hidden")
    parser.add_argument("--agents", default="oracle,greedy,random")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--tasks", type=int, default=None, help="tasks per episode (default: scenario)"
    )
    args = parser.parse_args(argv)
    seeds = list(range(args.seeds))
    others = [a for a in args.agents.split(",") if a != "hindsight"]
    for name in args.scenarios.split(","):
        scenario = load_scenario(name)
        if args.tasks is not None:
            episode = scenario.episode.model_copy(update={"tasks_per_episode": args.tasks})
            scenario = scenario.model_copy(update={"episode": episode})
        started = time.perf_counter()
        bound = held_out_episode("hindsight", scenario, seeds)
        wall = time.perf_counter() - started
        rows = {"hindsight bound": bound["bound_completion_rate"]}
        rows["hindsight realised"] = bound["completion_rate"]
        played = {a: held_out_episode(a, scenario, seeds) for a in others}
        for agent, summary in played.items():
            rows[agent] = summary["completion_rate"]
        if "oracle" in played:
            rows["bound - oracle"] = (
                bound["bound_completion_rate"] - played["oracle"]["completion_rate"]
            )
            rows["realised - oracle"] = (
                bound["completion_rate"] - played["oracle"]["completion_rate"]
            )
        print(
            f"\n{name}: {len(seeds)} seeds x 1 held-out episode, {scenario.episode.num_tasks} tasks"
        )
        print("| completion | mean [95 % CI] | min | max |\n|---|---|---|---|")
        for label, values in rows.items():
            print(f"| {label} | {bootstrap_ci(values)} | {values.min():.3f} | {values.max():.3f} |")
        print(
            f"reward bound {bootstrap_ci(bound['bound_sum_reward'])}, realised "
            f"{bootstrap_ci(bound['sum_reward'])}"
            + (
                f", oracle {bootstrap_ci(played['oracle']['sum_reward'])}"
                if "oracle" in played
                else ""
            )
        )
        solve = bound["solve_time_s"]
        print(
            f"solve time per row (both solves) median {np.median(solve):.1f} s, max {solve.max():.1f}"
            f" s; wall {wall:.0f} s; completion bound optimal for the relaxation in "
            f"{int(bound['bound_completion_optimal'].sum())}/{len(seeds)}, reward bound in "
            f"{int(bound['bound_reward_optimal'].sum())}/{len(seeds)}"
        )
        print(
            "per seed bound / realised / oracle:",
            [
                (round(float(b), 2), round(float(r), 2), round(float(o), 2))
                for b, r, o in zip(
                    bound["bound_completion_rate"],
                    bound["completion_rate"],
                    played.get("oracle", bound)["completion_rate"],
                    strict=True,
                )
            ],
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
