"""The deep-RL tuning sweep: every family gets the same budget on the ``paper`` scenario.

Each family (one DRL agent) is tried at its library-default learning rate and at a third, three and
nine times it (the one hyperparameter every family shares and the one most often worth tuning), on
tuning seeds that no reported experiment uses, for the same number of training episodes, then
evaluated frozen on held-out workloads. The best learning rate per family by the completion of
its last ten training episodes (ties: sum reward) becomes the agent's default
(``docs/baselines.md``). Training completion rather than evaluation decides because it measures
the policy as it was learned, whatever the evaluation rule (sampled or greedy) of the family.

The runs go through the experiment runner (``agent@lr=...`` variants), so the sweep is resumable
and its ``results.nc`` carries provenance. Run::

    python -m aif_offload.analysis.tune_drl --out aif-offload-results/tuning
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

from aif_offload.agents import agent_class, agent_info, agent_names
from aif_offload.agents.base import DEEP_RL
from aif_offload.diagnostics.statistics import bootstrap_ci
from aif_offload.experiment.executors import run_experiment
from aif_offload.experiment.spec import ExperimentSpec
from aif_offload.scenarios import load_scenario

# Every deep-RL agent, as the classes declare their family.
FAMILIES = tuple(n for n in agent_names() if agent_info(n).family == DEEP_RL)
LR_FACTORS = (1 / 3, 1.0, 3.0, 9.0)  # x9: three families chose x3, the grid's top
TUNING_SEEDS = (900, 901)  # disjoint from the experiments' seeds 0.. and their evaluation seeds


def default_learning_rate(family: str) -> float:
    """The library default each family starts from (recorded in docs/baselines.md)."""
    defaults = {"ppo": 3e-4, "maskable-ppo": 3e-4, "dqn": 1e-4, "rainbow-dqn": 1e-4, "sac": 3e-4}
    defaults["gp-nfsp"] = 3e-4  # its PPO best response starts from SB3's PPO default
    return defaults.get(family, agent_class(family).learning_rate)


def variants(families: tuple[str, ...]) -> dict[str, list[str]]:
    return {
        family: [f"{family}@lr={default_learning_rate(family) * f:.3g}" for f in LR_FACTORS]
        for family in families
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--eval-episodes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("aif-offload-results/tuning"))
    args = parser.parse_args(argv)
    grid = variants(tuple(args.families.split(",")))
    scenario = load_scenario("paper")
    spec = ExperimentSpec(
        "tuning",
        tuple(name for names in grid.values() for name in names),
        scenario.model_dump_json(),
        TUNING_SEEDS,
        args.episodes,
        args.eval_episodes,
    )
    path = run_experiment(
        spec, args.out, workers=args.workers, command="python -m aif_offload.analysis.tune_drl"
    )
    with xr.open_dataset(path, engine="h5netcdf") as data:
        data = data.load()
    print(
        f"\n{len(TUNING_SEEDS)} tuning seeds x {args.episodes} training episodes "
        f"({args.episodes * scenario.episode.num_tasks} env steps) per setting; held-out "
        f"evaluation over {args.eval_episodes} episodes; mean [95 % bootstrap CI over seeds]\n"
    )
    print(
        "| family | learning rate | completion, last 10 training episodes | its sum reward "
        "| eval completion | chosen |"
    )
    print("|---|---|---|---|---|---|")
    last = data.isel(episode=slice(-10, None)).mean("episode")
    for family, names in grid.items():
        scores = []
        for name in names:
            completion = last["completion_rate"].sel(agent=name).values
            reward = last["sum_reward"].sel(agent=name).values
            scores.append((float(np.mean(completion)), float(np.mean(reward)), name))
        best = max(scores)[2]
        for name in names:
            completion = last["completion_rate"].sel(agent=name).values
            reward = last["sum_reward"].sel(agent=name).values
            held_out = data["eval_completion_rate"].sel(agent=name).mean("eval_episode").values
            lr = name.partition("@lr=")[2]
            mark = "yes" if name == best else ""
            print(
                f"| `{family}` | {lr} | {bootstrap_ci(completion)} | {bootstrap_ci(reward)} "
                f"| {bootstrap_ci(held_out)} | {mark} |"
            )


if __name__ == "__main__":
    main()
