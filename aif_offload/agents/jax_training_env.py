"""The functional environment as the JAX deep-RL agents train on it (rejax 0.1.3).

Three things on top of :class:`~aif_offload.envs.functional.FunctionalEnv`:

- gymnax's own ``Discrete`` action space: rejax tells discrete from continuous actions by
  ``isinstance(space, gymnax.environments.spaces.Discrete)``, so the look-alike of
  ``envs/jax_spaces.py`` would be taken for a continuous one;
- the run's world: the hidden server speeds are those of the NumPy world generator for the run's
  seed (``TrainingParams.speed_z``), so an agent trains in the same world the runner evaluates it
  in (the functional env alone would draw them from a JAX key, a different world);
- the training curve: the state carries each environment's running sums for its episode
  (:class:`EpisodeSums`), which the driver reads at the end of every round and turns into the
  runner's per-episode metrics (:func:`episode_summaries`);
- no auto-reset inside ``step``: the driver resets all environments at once between rounds.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnax
import jax
import jax.numpy as jnp
import numpy as np

from aif_offload.envs.episode_metrics import EpisodeAccumulator
from aif_offload.envs.functional import EnvParams, EnvState, FunctionalEnv
from aif_offload.sim.hidden import world_generator
from aif_offload.sim.outcome import FAILURE_REASONS
from aif_offload.sim.scenario import Scenario

PARTS = ("latency_s", "transmission_s", "propagation_s", "queueing_s", "compute_s")


class TrainingParams(NamedTuple):
    env: EnvParams
    speed_z: jax.Array  # (S,) the run's hidden server speeds (standard normal draws)


class EpisodeSums(NamedTuple):
    """What :class:`EpisodeAccumulator` sums over one episode, for one environment."""

    tasks: jax.Array
    completed: jax.Array
    reward: jax.Array
    accuracy: jax.Array
    parts: jax.Array  # (5,) in PARTS order, over completed tasks
    failures: jax.Array  # (reasons,) counts
    latencies: jax.Array  # (num_tasks,) NaN where the task failed

    @classmethod
    def zeros(cls, num_tasks: int) -> EpisodeSums:
        z = jnp.zeros((), jnp.float32)
        return cls(
            z,
            z,
            z,
            z,
            jnp.zeros(len(PARTS), jnp.float32),
            jnp.zeros(len(FAILURE_REASONS), jnp.float32),
            jnp.full(num_tasks, jnp.nan, jnp.float32),
        )


class TrainingState(NamedTuple):
    env: EnvState
    sums: EpisodeSums  # of the episode being played


def world_speed_z(scenario: Scenario, world_seed: int) -> np.ndarray:
    """(S,) the standard normal server speeds the NumPy simulator draws for ``world_seed``."""
    return world_generator(world_seed).standard_normal(scenario.num_servers)


class TrainingEnv:
    """gymnax-style env (five-value step, no auto-reset) for one scenario, with episode sums."""

    def __init__(self, scenario: Scenario, *, reward: str = "eq14") -> None:
        self.inner = FunctionalEnv(scenario, reward=reward)
        self.scenario = self.inner.scenario
        self.num_tasks = self.scenario.episode.num_tasks
        self._own_world = self.scenario.has_hidden_world and self.scenario.hidden.service.varies

    def params(self, world_seed: int) -> TrainingParams:
        # A raw uint32 key: rejax deep-copies its params (``dataclasses.asdict``), which typed
        # keys refuse under a trace.
        default = self.inner.default_params._replace(world_key=jax.random.PRNGKey(world_seed))
        speed_z = jnp.asarray(world_speed_z(self.scenario, world_seed), jnp.float32)
        return TrainingParams(default, speed_z)

    @property
    def default_params(self) -> TrainingParams:
        return self.params(0)

    @property
    def num_actions(self) -> int:
        return self.inner.num_actions

    def action_space(self, params: Any = None) -> gymnax.environments.spaces.Discrete:
        return gymnax.environments.spaces.Discrete(self.inner.num_actions)

    def observation_space(self, params: Any = None) -> gymnax.environments.spaces.Box:
        inner = self.inner.observation_space()
        return gymnax.environments.spaces.Box(inner.low, inner.high, inner.shape, jnp.float32)

    def reset(self, key: jax.Array, params: TrainingParams) -> tuple[jax.Array, TrainingState]:
        inner = self.inner
        draws = inner.builder.draw(key, params.env.world_key)
        if self._own_world:
            draws = draws._replace(speed_z=params.speed_z.astype(draws.speed_z.dtype))
        episode = inner.builder.build(draws)
        env_state = EnvState(episode, inner.core.initial_state(episode))
        obs = inner.get_obs(env_state, params.env)
        return obs, TrainingState(env_state, EpisodeSums.zeros(self.num_tasks))

    def step(
        self, key: jax.Array, state: TrainingState, action: jax.Array, params: TrainingParams
    ) -> tuple[jax.Array, TrainingState, jax.Array, jax.Array, dict[str, Any]]:
        """One dispatch, without auto-reset: the driver (``jax_rl.py``) resets every environment
        between rounds, each round being exactly one episode of each (a reset inside ``step``
        would build a whole episode at every step under ``vmap``: 50x slower, measured)."""
        index = state.env.time
        obs, env_state, reward, done, info = self.inner.step_env(key, state.env, action, params.env)
        sums = _add(state.sums, index, reward, info)
        return obs, TrainingState(env_state, sums), reward, done, info


def _add(sums: EpisodeSums, index: jax.Array, reward: jax.Array, info: dict) -> EpisodeSums:
    completed = info["completed"].astype(bool)
    parts = jnp.stack([jnp.where(completed, info[k], 0.0) for k in PARTS]).astype(jnp.float32)
    latency = jnp.where(completed, info["latency_s"], jnp.nan).astype(jnp.float32)
    failure = jax.nn.one_hot(info["failure"], len(FAILURE_REASONS), dtype=jnp.float32)
    return EpisodeSums(
        sums.tasks + 1,
        sums.completed + completed,
        sums.reward + reward.astype(jnp.float32),
        sums.accuracy + info["accuracy"].astype(jnp.float32),
        sums.parts + parts,
        sums.failures + failure,
        sums.latencies.at[index].set(latency),
    )


def episode_summaries(sums: EpisodeSums) -> dict[str, np.ndarray]:
    """The runner's episode metrics, one per row, from stacked episode sums (leading axis B),
    computed by :meth:`EpisodeAccumulator.summary` itself."""
    tasks = np.asarray(sums.tasks, dtype=float)
    accumulator = EpisodeAccumulator(tasks.shape[0])
    accumulator.tasks = tasks
    accumulator.completed = np.asarray(sums.completed, dtype=float)
    accumulator.reward = np.asarray(sums.reward, dtype=float)
    accumulator.accuracy = np.asarray(sums.accuracy, dtype=float)
    parts = np.asarray(sums.parts, dtype=float)
    accumulator.parts = {k: parts[:, i] for i, k in enumerate(PARTS)}
    accumulator.failures = np.asarray(sums.failures, dtype=float)
    accumulator.latencies = list(np.asarray(sums.latencies, dtype=float).T)
    return accumulator.summary()
