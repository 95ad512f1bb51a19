"""Run one agent on several seeds for some episodes and return per-episode metrics per seed.

The seeds run side by side as one vector environment, row i seeded by seeds[i] for both the
environment and the agent, so each seed's numbers are the same whatever else shares the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aif_offload.agents import EnvContext, Transition, make_agent
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.experiment.metrics import EpisodeAccumulator
from aif_offload.experiment.storage import write_atomic
from aif_offload.sim.scenario import Scenario


@dataclass(frozen=True)
class RunResult:
    """Metrics of one (agent, seed) run: arrays with one entry per episode."""

    agent: str
    seed: int
    metrics: dict[str, np.ndarray]  # name -> (episodes,) ; "failures" -> (episodes, reasons)
    env_steps: np.ndarray  # (episodes,) cumulative environment steps at each episode's end


def run_agent(
    agent_name: str,
    scenario: Scenario,
    seeds: Sequence[int],
    episodes: int,
    *,
    on_step: Callable[[], None] | None = None,
    beliefs_path: Path | None = None,
) -> list[RunResult]:
    """Run ``agent_name`` for ``episodes`` episodes of ``scenario`` on each seed.

    If the agent records beliefs and ``beliefs_path`` is given, they are written there (netCDF).
    """
    if episodes < 1:
        raise ValueError(f"episodes: must be >= 1, got {episodes}")
    if len(seeds) < 1:
        raise ValueError("seeds: need at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: must be distinct, got {list(seeds)}")
    batch = len(seeds)
    env = CloudEdgeLLMVectorEnv(batch, scenario)
    context = EnvContext(
        scenario=env.scenario,
        action_nvec=env.core.sim.action_nvec,
        layout=env.core.layout,
        batch_size=batch,
    )
    agent = make_agent(agent_name, context, seeds=seeds)
    observation, _ = env.reset(seed=[int(s) for s in seeds])
    accumulator = EpisodeAccumulator(batch)
    per_episode: list[dict[str, np.ndarray]] = []
    steps = 0
    for _ in range(episodes):
        agent.begin_episode()
        accumulator.clear()
        while True:
            truth = env.oracle_outcomes() if agent.needs_truth else None
            action = agent.act(observation, truth)
            next_observation, reward, terminated, truncated, info = env.step(action)
            steps += 1
            accumulator.add(reward, info)
            if agent.learns:
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
        summary["env_steps"] = np.full(batch, steps)
        per_episode.append(summary)
    beliefs = agent.belief_data()
    if beliefs is not None and beliefs_path is not None:
        write_atomic(beliefs, beliefs_path)
    return [
        RunResult(
            agent=agent_name,
            seed=int(seed),
            metrics={
                k: np.stack([ep[k][i] for ep in per_episode])
                for k in per_episode[0]
                if k != "env_steps"
            },
            env_steps=np.array([ep["env_steps"][i] for ep in per_episode]),
        )
        for i, seed in enumerate(seeds)
    ]
