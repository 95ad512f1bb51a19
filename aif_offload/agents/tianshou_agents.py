"""Rainbow DQN and discrete SAC from Tianshou 2.0 (which SB3 lacks), behind the agent protocol.

Like the SB3 agents these train themselves: Tianshou's off-policy trainer drives a single
environment seeded exactly as the runner's training workloads, and a thin Gymnasium wrapper turns
the per-task info into the runner's per-episode metrics. Both act on the flattened action
``Discrete(240)``. Rainbow (C51 distributional head, dueling noisy layers, prioritised replay,
3-step returns) masks infeasible allocations through a ``{"obs", "mask"}`` observation, as
Tianshou's DQN family supports; Tianshou's discrete SAC has no masking. Settings follow the
library's examples (see docs/baselines.md); the episode length sets the collection step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from tianshou.algorithm import DiscreteSAC, RainbowDQN
from tianshou.algorithm.modelfree.c51 import C51Policy
from tianshou.algorithm.modelfree.discrete_sac import DiscreteSACPolicy
from tianshou.algorithm.modelfree.sac import AutoAlpha
from tianshou.algorithm.optim import AdamOptimizerFactory
from tianshou.data import Batch, Collector, PrioritizedVectorReplayBuffer, VectorReplayBuffer
from tianshou.env import DummyVectorEnv
from tianshou.trainer import OffPolicyTrainerParams
from tianshou.utils.net.common import Net
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic, NoisyLinear

from aif_offload.agents import declared
from aif_offload.agents.allocation import observation_mask
from aif_offload.agents.deep_rl import DeepRLAgent
from aif_offload.envs.cloud_edge import CloudEdgeLLMEnv
from aif_offload.envs.episode_metrics import EpisodeAccumulator, stack_rows
from aif_offload.sim.outcome import FAILURE_REASONS, Outcome
from aif_offload.sim.scenario import Scenario


class EpisodeMetrics(gym.Wrapper):
    """Reports each finished episode's metrics (the runner's EpisodeAccumulator) to a callback."""

    def __init__(self, env: gym.Env, report: Callable[[dict[str, np.ndarray]], None]) -> None:
        super().__init__(env)
        self.accumulator = EpisodeAccumulator(1)
        self.report = report

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        facts = {k: np.asarray([v]) for k, v in info.items()}
        facts["failure"] = np.asarray([FAILURE_REASONS.index(info["failure"])])
        self.accumulator.add(np.asarray([reward], dtype=float), facts)
        if terminated or truncated:
            self.report(self.accumulator.summary())
            self.accumulator.clear()
        return obs, reward, terminated, truncated, info


class MaskedObservation(gym.ObservationWrapper):
    """``{"obs": observation, "mask": flat action mask}``: how Tianshou's DQN family masks."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        n = int(env.action_space.n)
        self.observation_space = gym.spaces.Dict(
            {"obs": env.observation_space, "mask": gym.spaces.MultiBinary(n)}
        )

    def observation(self, observation):
        return {"obs": observation, "mask": self.env.unwrapped.action_masks()}


class TianshouAgent(DeepRLAgent):
    """Base: one Tianshou algorithm per row, trained by :meth:`train`."""

    masked: ClassVar[bool] = False
    prioritized: ClassVar[bool] = False
    settings: ClassVar[dict[str, Any]] = {
        "batch_size": 64,
        "updates_per_step": 0.25,
        "buffer": 50_000,
    }

    def build(self, obs_size: int, actions: int):
        raise NotImplementedError

    def _env(self, scenario: Scenario, seed: int, report) -> gym.Env:
        env: gym.Env = EpisodeMetrics(CloudEdgeLLMEnv(scenario, flatten_actions=True), report)
        if self.masked:
            env = MaskedObservation(env)
        env.reset(seed=seed)  # the first reset fixes the workload stream, as in the runner
        return env

    def train(
        self,
        phases: Sequence[tuple[int, Scenario, int]],
        episodes: int,
        on_episode: Callable[[], None] | None = None,
    ) -> list[dict[str, np.ndarray]]:
        """Train every row for ``episodes`` episodes; return the per-episode metrics (B,)."""
        torch.set_num_threads(1)
        obs_size = self.context.layout.size
        actions = int(np.prod(self.context.action_nvec))
        per_row, self.algorithms = [], []
        for seed in self.seeds:
            torch.manual_seed(seed)
            curve: list[dict[str, np.ndarray]] = []

            def report(summary, curve=curve) -> None:
                curve.append(summary)
                if on_episode is not None:
                    on_episode()

            algorithm = self.build(obs_size, actions)
            buffer_cls = PrioritizedVectorReplayBuffer if self.prioritized else VectorReplayBuffer
            extra = {"alpha": 0.6, "beta": 0.4} if self.prioritized else {}
            buffer = buffer_cls(self.settings["buffer"], buffer_num=1, **extra)
            for i, (start, scenario, offset) in enumerate(phases):
                end = phases[i + 1][0] if i + 1 < len(phases) else episodes
                steps = scenario.episode.num_tasks
                envs = DummyVectorEnv(
                    [lambda s=scenario, o=seed + offset, r=report: self._env(s, o, r)]
                )
                collector = Collector(algorithm, envs, buffer, exploration_noise=True)
                collector.reset()
                algorithm.run_training(
                    OffPolicyTrainerParams(
                        training_collector=collector,
                        max_epochs=end - start,
                        epoch_num_steps=steps,
                        collection_step_num_env_steps=steps // 4 or 1,
                        update_step_num_gradient_steps_per_sample=self.settings["updates_per_step"],
                        batch_size=self.settings["batch_size"],
                        verbose=False,
                        show_progress=False,
                    )
                )
            self.algorithms.append(algorithm)
            per_row.append(curve[:episodes])
        return stack_rows(per_row, episodes)

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        nvec = self.context.action_nvec
        obs = observation.astype(np.float32)
        masks = observation_mask(self.context, observation, flat=True)
        actions = []
        for row, algorithm in enumerate(self.algorithms):
            policy = algorithm.policy
            policy.eval()
            inner = (
                Batch(obs=obs[row : row + 1], mask=masks[row : row + 1])
                if self.masked
                else obs[row : row + 1]
            )
            with torch.no_grad():
                act = policy(Batch(obs=inner, info={})).act
            flat = int(
                np.asarray(act.cpu() if isinstance(act, torch.Tensor) else act).reshape(-1)[0]
            )
            actions.append(np.unravel_index(flat, nvec))
        return np.asarray(actions, dtype=np.int64)


class RainbowAgent(declared.RainbowDQN, TianshouAgent):
    masked = True
    prioritized = True
    learning_rate = 3e-4  # tuned: 3x the 1e-4 it started from (docs/baselines.md)
    # Atoms of the C51 head (Rainbow's paper: 51). The last layer has 240 actions x atoms outputs
    # (x2 for noisy layers), which dominated every update: 21 atoms train 1.7x faster here
    # (docs/baselines.md), and over the support [0, 10] they still resolve 0.5 of return.
    num_atoms: ClassVar[int] = 21
    hidden_sizes: ClassVar[tuple[int, ...]] = (128, 128)

    def build(self, obs_size: int, actions: int):
        def noisy(i: int, o: int) -> NoisyLinear:
            return NoisyLinear(i, o, 0.1)

        net = Net(
            state_shape=obs_size,
            action_shape=actions,
            hidden_sizes=list(self.hidden_sizes),
            softmax=True,
            num_atoms=self.num_atoms,
            dueling_param=({"linear_layer": noisy}, {"linear_layer": noisy}),
        )
        # Eq. 14 pays at most ~0.6 per task, so with gamma 0.9 values stay within [0, 6].
        policy = C51Policy(
            model=net,
            action_space=gym.spaces.Discrete(actions),
            num_atoms=self.num_atoms,
            v_min=0.0,
            v_max=10.0,
            eps_training=0.05,
        )
        return RainbowDQN(
            policy=policy,
            optim=AdamOptimizerFactory(lr=self.learning_rate),
            gamma=0.9,
            n_step_return_horizon=3,
            target_update_freq=500,
        )


class DiscreteSACAgent(declared.DiscreteSAC, TianshouAgent):
    learning_rate = 2.7e-3  # tuned: 9x the 3e-4 of Tianshou's SAC examples (docs/baselines.md)
    stochastic_evaluation = True

    def build(self, obs_size: int, actions: int):
        def mlp() -> Net:
            return Net(state_shape=obs_size, hidden_sizes=[128, 128])

        actor = DiscreteActor(preprocess_net=mlp(), action_shape=actions, softmax_output=False)
        policy = DiscreteSACPolicy(
            actor=actor,
            action_space=gym.spaces.Discrete(actions),
            deterministic_eval=not self.stochastic_evaluation,
        )
        optim = AdamOptimizerFactory(lr=self.learning_rate)
        return DiscreteSAC(
            policy=policy,
            policy_optim=optim,
            critic=DiscreteCritic(preprocess_net=mlp(), last_size=actions),
            critic_optim=optim,
            critic2=DiscreteCritic(preprocess_net=mlp(), last_size=actions),
            critic2_optim=optim,
            tau=0.005,
            gamma=0.9,
            alpha=AutoAlpha(
                target_entropy=0.5 * np.log(actions), log_alpha=np.log(0.1), optim=optim
            ),
        )
