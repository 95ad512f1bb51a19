"""Small hand-built experiment directories for the report tests (no agent is run).

``results.nc`` comes from ``to_dataset`` over synthetic ``RunResult``s, ``experiment.json`` from an
``ExperimentSpec``; belief files imitate the layouts of aif-pymdp (discrete) and aif-pyro
(Gaussian, with posterior-predictive groups), and a NUTS file the InferenceData of ``fit_nuts``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from aif_offload.experiment.results import provenance, to_dataset
from aif_offload.experiment.runner import RunResult
from aif_offload.experiment.spec import ExperimentSpec
from aif_offload.experiment.storage import write_atomic
from aif_offload.scenarios import load_scenario
from aif_offload.sim.outcome import FAILURE_REASONS

SERVERS = ("cloud", "edge-1", "edge-2")
# Level of completion each agent settles at (the AIF agents learn: they start lower).
LEVELS = {
    "aif-pymdp": 0.92,
    "aif-pyro": 0.985,
    "ppo": 0.90,
    "greedy": 0.78,
    "random": 0.35,
    "oracle": 0.99,
}


def _metrics(rng, level: float, episodes: int, learns: bool, scale: float = 1.0):
    ramp = 1.0 - (0.3 * np.exp(-np.arange(episodes) / 2.0) if learns else 0.0)
    completion = np.clip(level * scale * ramp + rng.normal(0, 0.01, episodes), 0, 1)
    latency = 8.0 + 2.0 * (1 - completion) + rng.normal(0, 0.1, episodes)
    accuracy = 0.175 * completion
    utility = 1 / latency + accuracy
    failures = np.zeros((episodes, len(FAILURE_REASONS)))
    failures[:, 0] = 100 * completion
    failures[:, 1] = 100 - failures[:, 0]
    return {
        "completion_rate": completion,
        "mean_latency_s": latency,
        "mean_accuracy": accuracy,
        "sum_reward": 100 * completion * (1 / latency + 0.175),
        "utility": utility,
        "tasks": np.full(episodes, 100.0),
        "failures": failures,
    }


def make_experiment(
    directory: Path,
    name: str = "compare",
    *,
    agents: tuple[str, ...] = ("aif-pymdp", "aif-pyro", "ppo", "greedy", "random", "oracle"),
    seeds: tuple[int, ...] = (0, 1, 2),
    episodes: int = 6,
    eval_episodes: int = 2,
    sweep: str | None = None,
    values: tuple[float, ...] = (),
    schedule: tuple[tuple[int, float], ...] = (),
    scenario_name: str = "paper",
) -> Path:
    """Write results.nc and experiment.json of a synthetic experiment; returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scenario = load_scenario(scenario_name)
    spec = ExperimentSpec(
        name,
        agents,
        scenario.model_dump_json(),
        seeds,
        episodes,
        eval_episodes,
        sweep,
        values,
        schedule,
    )
    rng = np.random.default_rng(0)
    runs = []
    for agent in agents:
        learns = agent.startswith("aif") or agent == "ppo"
        for value in values if sweep else (None,):
            scale = 1.0
            if sweep == "t_max_s":
                scale = 0.0 if value <= 2 else (0.2 if value < 10 else 1.0)
            elif sweep == "load_percent":
                scale = 100.0 / value
            for seed in seeds:
                train = _metrics(rng, LEVELS.get(agent, 0.5), episodes, learns, scale)
                if schedule:
                    step = schedule[0][0]
                    train["completion_rate"][step:] *= 0.6
                evals = _metrics(rng, LEVELS.get(agent, 0.5), eval_episodes, False, scale)
                if agent == "aif-pymdp":
                    train["mean_vfe"] = 4.0 - 0.1 * np.arange(episodes)
                    train["mean_surprise"] = 0.4 - 0.01 * np.arange(episodes)
                if agent == "aif-pyro":
                    train["svi_loss"] = -1.0 - 0.1 * np.arange(episodes)
                runs.append(
                    RunResult(
                        agent,
                        seed,
                        train,
                        100.0 * np.arange(1, episodes + 1),
                        evals if eval_episodes else {},
                        value,
                    )
                )
    attrs = provenance(scenario, {a: {} for a in agents}, f"synthetic {name}")
    attrs["run_versions"] = "0.1.0 @ synthetic"
    write_atomic(to_dataset(runs, attrs, sweep=sweep), directory / "results.nc")
    (directory / "experiment.json").write_text(spec.to_json())
    return directory


def _coords(seed: int, episodes: int, steps: int) -> dict:
    return {
        "seed": [seed],
        "episode": np.arange(episodes),
        "step": np.arange(steps),
        "server": list(SERVERS),
    }


def write_discrete_beliefs(path: Path, seed: int, episodes: int, steps: int = 10) -> None:
    """An aif-pymdp-like belief file: q_load with the true level, one other factor, q(pi)."""
    import arviz as az

    rng = np.random.default_rng(seed)
    shape = (1, episodes, steps, len(SERVERS))
    truth = rng.integers(0, 3, shape)
    q = rng.dirichlet(np.ones(3), shape) * 0.5 + 0.5 * np.eye(3)[truth]
    truth[:, -1] = -1  # an evaluation episode: no truth recorded
    coords = _coords(seed, episodes, steps)
    t = ("seed", "episode", "step")
    posterior = xr.Dataset(
        {
            "q_load": ((*t, "server", "level"), q),
            "q_channel": ((*t, "channel"), rng.dirichlet(np.ones(2), shape[:3])),
        },
        coords={**coords, "level": ["free", "busy", "full"], "channel": ["good", "poor"]},
    )
    policies = [f"{s}/{a}" for s in SERVERS for a in ("whole", "half")]
    stats = xr.Dataset(
        {
            "q_pi": ((*t, "policy"), rng.dirichlet(np.ones(len(policies)), shape[:3])),
            "utility": ((*t, "policy"), rng.normal(0.5, 0.1, (*shape[:3], len(policies)))),
            "info_gain": ((*t, "policy"), rng.gamma(2.0, 0.5, (*shape[:3], len(policies)))),
        },
        coords={**{k: coords[k] for k in t}, "policy": policies},
    )
    constant = xr.Dataset(
        {"true_load_level": ((*t, "server"), truth)},
        coords={k: coords[k] for k in (*t, "server")},
    )
    data = az.InferenceData(
        filtering=posterior.merge(stats), constant_data=constant, warn_on_custom_groups=False
    )
    write_atomic(data, path)


def write_gaussian_beliefs(path: Path, seed: int, episodes: int, steps: int = 10) -> None:
    """An aif-pyro-like belief file with posterior-predictive groups."""
    import arviz as az

    rng = np.random.default_rng(100 + seed)
    shape = (1, episodes, steps, len(SERVERS))
    true = rng.uniform(0, 1, shape)
    sd = np.full(shape, 0.1)
    mean = true + rng.normal(0, 0.1, shape)
    coords = _coords(seed, episodes, steps)
    t, ts = ("seed", "episode", "step"), ("seed", "episode", "step", "server")
    predictions = xr.Dataset(
        {
            "load_mean": (ts, mean),
            "load_sd": (ts, sd),
            "efe_risk": (t, rng.normal(-10, 0.2, shape[:3])),
            "efe_info_gain": (t, rng.gamma(1.0, 0.1, shape[:3])),
        },
        coords=coords,
    )
    log_compute = rng.normal(1.0, 0.3, shape[:3])
    log_compute[..., ::4] = np.nan  # steps without a completed task
    report = np.clip(true + rng.normal(0, 0.05, shape), 0, 1)
    observed = xr.Dataset({"log_compute": (t, log_compute), "report": (ts, report)}, coords=coords)
    constant = xr.Dataset(
        {"true_load": (ts, true), "report_mask": (ts, (report > 0) & (report < 1))},
        coords=coords,
    )
    draws = 20
    predictive = xr.Dataset(
        {
            "log_compute": (("chain", "draw", *t), rng.normal(1.0, 0.3, (1, draws, *shape[:3]))),
            "report": (("chain", "draw", *ts), rng.normal(0.5, 0.3, (1, draws, *shape))),
        },
        coords={**coords, "chain": [0], "draw": np.arange(draws)},
    )
    posterior = xr.Dataset(
        {"log_speed": (("chain", "draw", "server"), rng.normal(0, 0.1, (1, draws, 3)))},
        coords={"chain": [0], "draw": np.arange(draws), "server": list(SERVERS)},
    )
    data = az.InferenceData(
        posterior=posterior,
        posterior_predictive=predictive,
        filtering=predictions,
        observed_data=observed,
        constant_data=constant,
        warn_on_custom_groups=False,
    )
    write_atomic(data, path)


def write_nuts(path: Path, seed: int) -> None:
    """A NUTS InferenceData: two chains of a few parameters and a latent path, some divergences."""
    import arviz as az

    rng = np.random.default_rng(200 + seed)
    chains, draws = 2, 60
    diverging = np.zeros((chains, draws), dtype=bool)
    diverging[0, :2] = True
    data = az.from_dict(
        posterior={
            "log_speed": rng.normal(0, 0.1, (chains, draws, len(SERVERS))),
            "process_noise": np.abs(rng.normal(0.05, 0.01, (chains, draws))),
            "eps": rng.normal(0, 1, (chains, draws, 2, 10)),
        },
        sample_stats={"diverging": diverging},
        dims={"log_speed": ["server"], "eps": ["episode", "step"]},
        coords={"server": list(SERVERS)},
    )
    write_atomic(data, path)


def add_run_files(
    directory: Path, *, seeds=(0, 1, 2), episodes: int = 8, nuts: bool = True
) -> None:
    """Belief files for aif-pymdp and aif-pyro (and NUTS files for aif-pyro) under runs/."""
    runs = Path(directory) / "runs"
    for seed in seeds:
        write_discrete_beliefs(runs / "aif-pymdp" / f"seed={seed}.beliefs.nc", seed, episodes)
        write_gaussian_beliefs(runs / "aif-pyro" / f"seed={seed}.beliefs.nc", seed, episodes)
        if nuts:
            write_nuts(runs / "aif-pyro" / f"seed={seed}.nuts.nc", seed)
