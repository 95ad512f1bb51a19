"""Deep-RL baselines from Stable-Baselines3 / sb3-contrib behind the agent protocol.

SB3 drives its own environment loop, so these agents train themselves (``trains_itself``): the
runner hands them the scenario, the seeds and the episode budget, and they learn with SB3 on the
same environment (``SB3VecEnv``, seeded exactly as the runner's training workloads), reporting the
same per-episode metrics through a callback. Evaluation then goes through ``act`` with the
deterministic policy, like every other agent. One model per seed: rows are independent agents.

Hyperparameters are SB3's published defaults except where the episode structure needs otherwise
(rollout length = one episode for the on-policy methods); ``docs/baselines.md`` records them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.callbacks import BaseCallback

from aif_offload.agents import declared
from aif_offload.agents.allocation import observation_mask
from aif_offload.agents.deep_rl import DeepRLAgent, parallel_envs, torch_threads
from aif_offload.envs.episode_metrics import EpisodeAccumulator, stack_rows
from aif_offload.envs.sb3 import SB3VecEnv
from aif_offload.sim.outcome import Outcome
from aif_offload.sim.scenario import Scenario


class _EpisodeMetrics(BaseCallback):
    """Turns SB3's per-step infos into the runner's per-episode metrics, env by env in order."""

    def __init__(self, num_envs: int, on_episode: Callable[[dict[str, np.ndarray]], None]) -> None:
        super().__init__()
        self.accumulators = [EpisodeAccumulator(1) for _ in range(num_envs)]
        self.on_episode = on_episode

    def _on_step(self) -> bool:
        infos, rewards, dones = self.locals["infos"], self.locals["rewards"], self.locals["dones"]
        for i, accumulator in enumerate(self.accumulators):
            facts = {k: np.asarray([v]) for k, v in infos[i].items() if k != "terminal_observation"}
            accumulator.add(np.asarray(rewards[i : i + 1], dtype=float), facts)
            if dones[i]:
                self.on_episode(accumulator.summary())
                accumulator.clear()
        return True


class SB3Agent(DeepRLAgent):
    """Base of the SB3 agents: one model per row, trained by :meth:`train`."""

    flatten_actions: ClassVar[bool] = False
    uses_masks: ClassVar[bool] = False
    algorithm: ClassVar[Callable[[], type]]  # returns the SB3 algorithm class (imported lazily)

    def options(self, episode_steps: int, num_envs: int) -> dict[str, Any]:
        """Keyword arguments that differ from the library's defaults (see docs/baselines.md)."""
        return {}

    def make_model(self, env: SB3VecEnv, seed: int, episode_steps: int):
        options = {
            "learning_rate": self.learning_rate,
            **self.options(episode_steps, env.num_envs),
        }
        return self.algorithm()("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **options)

    def train(
        self,
        phases: Sequence[tuple[int, Scenario, int]],
        episodes: int,
        on_episode: Callable[[], None] | None = None,
    ) -> list[dict[str, np.ndarray]]:
        """Train every row's model for ``episodes`` episodes; return per-episode metrics (B,).

        ``phases`` lists (first episode, scenario, workload seed offset), the first starting at 0:
        row i's workloads in a phase are seeded with ``seeds[i] + offset``, as the runner's are;
        ``parallel_envs`` environments play that stream's episodes in turn. Torch runs on one
        thread while training (``torch_threads``).
        """
        bounds = [start for start, _, _ in phases[1:]] + [episodes]
        lengths = [end - start for (start, _, _), end in zip(phases, bounds, strict=True)]
        n_envs = parallel_envs(
            self.n_envs, lengths + [scenario.episode.num_tasks for _, scenario, _ in phases]
        )
        with torch_threads(1):
            return self._train(phases, bounds, n_envs, episodes, on_episode)

    def _train(self, phases, bounds, n_envs, episodes, on_episode) -> list[dict[str, np.ndarray]]:
        per_row: list[list[dict[str, np.ndarray]]] = []
        self.models = []
        for seed in self.seeds:
            curve: list[dict[str, np.ndarray]] = []

            def record(summary, curve=curve) -> None:
                curve.append(summary)
                if on_episode is not None:
                    on_episode()

            model = None
            for i, ((start, phase_scenario, offset), end) in enumerate(
                zip(phases, bounds, strict=True)
            ):
                env = SB3VecEnv(
                    n_envs,
                    phase_scenario,
                    seed=seed + offset,
                    flatten_actions=self.flatten_actions,
                    one_stream=True,
                )
                steps = phase_scenario.episode.num_tasks
                if model is None:
                    model = self.make_model(env, seed, steps)
                else:
                    model.set_env(env)
                target = end - start
                done_before = len(curve)
                # SB3 may round the budget up to whole rollouts; stop at exactly `target` episodes.
                callback = _StopAfter(
                    _EpisodeMetrics(n_envs, record),
                    lambda c=curve, d=done_before, t=target: len(c) - d >= t,
                )
                model.learn(
                    total_timesteps=10 * target * steps,
                    callback=callback,
                    reset_num_timesteps=i == 0,
                )
            self.models.append(model)
            per_row.append(curve[:episodes])
        return stack_rows(per_row, episodes)

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        nvec = self.context.action_nvec
        actions = []
        for row, model in enumerate(self.models):
            obs = observation[row : row + 1]
            kwargs = {}
            if self.uses_masks:
                kwargs["action_masks"] = observation_mask(
                    self.context, obs, flat=self.flatten_actions
                )
            deterministic = not self.stochastic_evaluation
            action, _ = model.predict(obs, deterministic=deterministic, **kwargs)
            action = np.asarray(action).reshape(-1)
            if self.flatten_actions:
                action = np.array(np.unravel_index(int(action[0]), nvec))
            actions.append(action)
        return np.stack(actions).astype(np.int64)


class _StopAfter(BaseCallback):
    """Runs ``inner`` and stops training once ``enough()`` holds."""

    def __init__(self, inner: BaseCallback, enough: Callable[[], bool]) -> None:
        super().__init__()
        self.inner = inner
        self.enough = enough

    def _init_callback(self) -> None:
        self.inner.init_callback(self.model)

    def _on_step(self) -> bool:
        self.inner.update_locals(self.locals)
        self.inner.on_step()
        return not self.enough()


def _ppo():
    return PPO


def _maskable_ppo():
    from sb3_contrib import MaskablePPO

    return MaskablePPO


def _dqn():
    return DQN


class PPOAgent(declared.PPO, SB3Agent):
    algorithm = staticmethod(_ppo)
    learning_rate = 2.7e-3  # tuned: 9x SB3's default 3e-4, the top of the grid (docs/baselines.md)
    stochastic_evaluation = True
    hyperparameters: ClassVar[dict[str, str]] = {"lr": "learning_rate", "envs": "n_envs"}
    # One update per episode's worth of steps, collected by 5 environments (20 steps each for
    # 100-task episodes): the same rollout size, 10 epochs and minibatch as with one, about
    # three times faster (docs/benchmarks.md).
    n_envs = 5

    def options(self, episode_steps: int, num_envs: int) -> dict[str, Any]:
        # One rollout = one episode's worth of steps, one minibatch = the whole rollout.
        return {"n_steps": episode_steps // num_envs, "batch_size": episode_steps}


class MaskablePPOAgent(declared.MaskablePPO, PPOAgent):
    uses_masks = True
    algorithm = staticmethod(_maskable_ppo)
    learning_rate = 2.7e-3  # tuned: 9x sb3-contrib's default 3e-4 (docs/baselines.md)
    # One environment: with 2, 4 or 5 its training completion after 60 episodes was about 0.03
    # lower at every seed tried (docs/benchmarks.md), so it keeps its whole-episode rollouts.
    n_envs = 1


class DQNAgent(declared.DQN, SB3Agent):
    flatten_actions = True
    algorithm = staticmethod(_dqn)
    learning_rate = 1e-4  # SB3's default, kept by the tuning sweep (docs/baselines.md)

    def options(self, episode_steps: int, num_envs: int) -> dict[str, Any]:
        return {
            "learning_starts": episode_steps,
            "buffer_size": 100_000,
            "exploration_fraction": 0.3,
        }
