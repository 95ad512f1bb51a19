"""Run one agent on several seeds: training episodes, then evaluation on held-out workloads.

The seeds run side by side as one vector environment, row i seeded by seeds[i] for both the
environment and the agent, so each seed's numbers are the same whatever else shares the batch.
Training episodes give the learning curve (learners learn online); evaluation episodes run the
frozen agent on workloads drawn from held-out seeds (``seed + EVAL_SEED_OFFSET``), never seen in
training. A schedule can change the scenario at given training episodes (the load step of the
``adaptation`` experiment) while the agent keeps what it learned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from aif_offload.agents import Agent, EnvContext, Transition, make_agent
from aif_offload.envs.episode_metrics import EpisodeAccumulator
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.experiment.storage import stamp, write_atomic
from aif_offload.experiment.task_records import TaskRecorder
from aif_offload.sim.scenario import Scenario

EVAL_SEED_OFFSET = 1_000_003  # evaluation workloads: seeds no training run uses
PHASE_SEED_STRIDE = 100_003  # a schedule's k-th scenario seeds its workloads with seed + k * this


@dataclass(frozen=True)
class RunResult:
    """Metrics of one (agent, seed) run, one entry per episode."""

    agent: str
    seed: int
    metrics: dict[
        str, np.ndarray
    ]  # training: name -> (episodes,); "failures" -> (episodes, reasons)
    env_steps: np.ndarray  # (episodes,) cumulative training environment steps at each episode's end
    eval_metrics: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (eval episodes,)
    value: float | None = None  # the swept parameter's value, if the run is part of a sweep


@dataclass(frozen=True)
class SeedOutputs:
    """Where one seed's share of a batched run is written, and the provenance it carries."""

    beliefs_path: Path | None
    task_records_path: Path | None
    attrs: dict[str, str]


def _seed_slice(data: Any, row: int, rows: int) -> Any:
    """Row ``row`` of a batched run's beliefs (InferenceData or Dataset with dim ``seed``, dim
    kept); a run of one seed's beliefs whole, whatever their dims (an agent's own layout)."""
    return data if rows == 1 else data.isel(seed=[row])


def _seed_tasks(tasks: xr.Dataset, seed: int) -> xr.Dataset:
    mine = tasks.isel(task=np.flatnonzero(tasks["seed"].values == seed))
    return mine.assign_coords(task=np.arange(mine.sizes["task"]))


def _check_seeds(seeds: Sequence[int]) -> None:
    if len(seeds) < 1:
        raise ValueError("seeds: need at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: must be distinct, got {list(seeds)}")


def _env(scenario: Scenario, seeds: Sequence[int], offset: int):
    """Workloads seeded ``seed + offset``, in the world of the run's seed (the same servers)."""
    env = CloudEdgeLLMVectorEnv(len(seeds), scenario)
    observation, _ = env.reset(
        seed=[int(s) + offset for s in seeds], options={"world_seeds": [int(s) for s in seeds]}
    )
    return env, observation


def _play_episode(
    env: CloudEdgeLLMVectorEnv,
    agent: Agent,
    observation: np.ndarray,
    *,
    on_step: Callable[[], None] | None,
    recorder: TaskRecorder | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """One episode of every row; returns its metrics, the next observation and the steps taken
    (and adds every task to ``recorder``)."""
    accumulator = EpisodeAccumulator(env.num_envs)
    agent.begin_episode()
    if agent.needs_episode_truth:  # hindsight only: the episode about to be played, in advance
        agent.see_episode(env.episode_tasks())
    steps = 0
    while True:
        truth = env.oracle_outcomes() if agent.needs_truth else None
        terminals = env.current_terminals() if agent.needs_terminal or recorder else None
        if agent.needs_terminal:  # per-device agents: who issues the task (a device knows itself)
            agent.set_terminals(terminals)
        action = agent.act(observation, truth)
        next_observation, reward, terminated, truncated, info = env.step(action)
        steps += 1
        accumulator.add(reward, info)
        if recorder is not None:
            recorder.add(observation, action, terminals, reward, info)
        if agent.learns:  # frozen agents still perceive outcomes; they only stop learning
            final = info.get("final_obs", next_observation)
            agent.observe(
                Transition(observation, action, reward, final, terminated, truncated, info)
            )
        observation = next_observation
        if on_step is not None:
            on_step()
        # Every row shares the scenario, so all episodes end on the same step.
        if truncated.all() or terminated.all():
            break
    summary = accumulator.summary()
    summary.update(agent.end_episode())
    return summary, observation, steps


def _per_row(episodes: list[dict[str, np.ndarray]], row: int) -> dict[str, np.ndarray]:
    if not episodes:
        return {}
    return {key: np.stack([ep[key][row] for ep in episodes]) for key in episodes[0]}


def run_agent(
    agent_name: str,
    scenario: Scenario,
    seeds: Sequence[int],
    episodes: int,
    *,
    eval_episodes: int = 0,
    schedule: Sequence[tuple[int, Scenario]] = (),
    on_step: Callable[[], None] | None = None,
    on_episode: Callable[[], None] | None = None,
    beliefs_path: Path | None = None,
    beliefs_attrs: dict[str, str] | None = None,
    task_records_path: Path | None = None,
    seed_outputs: Sequence[SeedOutputs] | None = None,
) -> list[RunResult]:
    """Train ``agent_name`` for ``episodes`` episodes on each seed, then evaluate it.

    ``schedule`` lists (training episode, scenario) switches, e.g. ``[(50, heavier)]``; the
    scenarios must share servers and actions. If the agent records beliefs and ``beliefs_path`` is
    given, they are written there (netCDF). With ``task_records_path`` every task's record is
    written there (``aif_offload.experiment.task_records``, with ``beliefs_attrs``).
    ``seed_outputs`` (one per seed, instead of those two paths) writes each seed's rows to its own
    files, as if it had run alone: how the executors batch seeds (``Agent.batches_seeds``).
    """
    if seed_outputs is not None and len(seed_outputs) != len(seeds):
        raise ValueError(f"seed_outputs: need one per seed ({len(seeds)}), got {len(seed_outputs)}")
    if episodes < 1:
        raise ValueError(f"episodes: must be >= 1, got {episodes}")
    if eval_episodes < 0:
        raise ValueError(f"eval_episodes: must be >= 0, got {eval_episodes}")
    _check_seeds(seeds)
    env, observation = _env(scenario, seeds, 0)
    # Agents are built from the nominal view: what an operator is told, never the hidden truth.
    context = EnvContext(
        env.scenario.nominal_view(), env.core.sim.action_nvec, env.core.layout, len(seeds)
    )
    switches = dict(schedule)
    for start, later in switches.items():
        probe = CloudEdgeLLMVectorEnv(1, later)
        if not (
            np.array_equal(probe.core.sim.action_nvec, context.action_nvec)
            and probe.core.layout == context.layout
        ):
            raise ValueError(
                f"schedule: the scenario at episode {start} changes servers or actions"
            )
    agent = make_agent(agent_name, context, seeds=seeds)
    recorder = None
    if task_records_path is not None or any(o.task_records_path for o in seed_outputs or ()):
        recorder = TaskRecorder(agent_name, seeds, env.scenario, env.core.layout)

    training: list[dict[str, np.ndarray]] = []
    steps = 0
    if agent.trains_itself:  # e.g. SB3, which drives its own environment loop
        starts = sorted(switches)
        phases = [(0, scenario, 0)] + [
            (start, switches[start], (k + 1) * PHASE_SEED_STRIDE) for k, start in enumerate(starts)
        ]
        training = agent.train(phases, episodes, on_episode)
        for summary in training:
            steps += int(summary["tasks"][0])
            summary["env_steps"] = np.full(len(seeds), steps)
        env = CloudEdgeLLMVectorEnv(len(seeds), phases[-1][1])
    for episode in range(episodes if not training else 0):
        if episode in switches and episode > 0:
            phase = sorted(switches).index(episode) + 1
            env, observation = _env(switches[episode], seeds, phase * PHASE_SEED_STRIDE)
        if recorder is not None:
            recorder.begin_episode("train", episode)
        summary, observation, taken = _play_episode(
            env, agent, observation, on_step=on_step, recorder=recorder
        )
        steps += taken
        summary["env_steps"] = np.full(len(seeds), steps)
        training.append(summary)
        if on_episode is not None:
            on_episode()

    evaluation: list[dict[str, np.ndarray]] = []
    if eval_episodes:
        agent.freeze()
        env, observation = _env(env.scenario, seeds, EVAL_SEED_OFFSET)
        for episode in range(eval_episodes):
            if recorder is not None:
                recorder.begin_episode("eval", episode)
            summary, observation, _ = _play_episode(
                env, agent, observation, on_step=on_step, recorder=recorder
            )
            evaluation.append(summary)
            if on_episode is not None:
                on_episode()

    beliefs = agent.belief_data()
    if beliefs is not None and beliefs_path is not None:
        write_atomic(stamp(beliefs, beliefs_attrs or {}), beliefs_path)
    if recorder is not None and task_records_path is not None:
        write_atomic(recorder.to_dataset(beliefs_attrs), task_records_path)
    all_tasks = recorder.to_dataset() if recorder is not None and seed_outputs else None
    for row, (seed, outputs) in enumerate(zip(seeds, seed_outputs or (), strict=False)):
        if beliefs is not None and outputs.beliefs_path is not None:
            share = _seed_slice(beliefs, row, len(seeds))
            write_atomic(stamp(share, outputs.attrs), outputs.beliefs_path)
        if recorder is not None and outputs.task_records_path is not None:
            tasks = _seed_tasks(all_tasks, int(seed))  # built once, sliced per seed
            tasks.attrs = {**outputs.attrs, **all_tasks.attrs}
            write_atomic(tasks, outputs.task_records_path)
    results = []
    for row, seed in enumerate(seeds):
        metrics = _per_row(training, row)
        env_steps = metrics.pop("env_steps")
        results.append(
            RunResult(agent_name, int(seed), metrics, env_steps, _per_row(evaluation, row))
        )
    return results
