"""Rainbow DQN and discrete SAC from Tianshou 2.0 (which SB3 lacks), behind the agent protocol.

Like the SB3 agents these train themselves: Tianshou's off-policy trainer drives environments
playing the runner's training workload stream, and a thin Gymnasium wrapper turns
the per-task info into the runner's per-episode metrics (several environments may play that
stream's episodes in turn: ``DeepRLAgent.n_envs``). Both act on the flattened action
``Discrete(240)``. Rainbow (C51 distributional head, dueling noisy layers, prioritised replay,
3-step returns) masks infeasible allocations through a ``{"obs", "mask"}`` observation, as
Tianshou's DQN family supports; Tianshou's discrete SAC has no masking. Settings follow the
library's examples (see docs/baselines.md); the episode length sets the collection step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from tianshou.algorithm import DiscreteSAC, RainbowDQN
from tianshou.algorithm.modelfree.c51 import C51Policy
from tianshou.algorithm.modelfree.discrete_sac import DiscreteSACPolicy
from tianshou.algorithm.modelfree.sac import AutoAlpha
from tianshou.algorithm.optim import TorchOptimizerFactory
from tianshou.data import Batch, Collector, PrioritizedVectorReplayBuffer, VectorReplayBuffer
from tianshou.env import DummyVectorEnv
from tianshou.trainer import OffPolicyTrainerParams
from tianshou.utils.net.common import Net
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic, NoisyLinear

from aif_offload.agents import declared
from aif_offload.agents.allocation import observation_mask
from aif_offload.agents.deep_rl import DeepRLAgent, parallel_envs, torch_threads
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


def adam(learning_rate: float) -> TorchOptimizerFactory:
    """Adam with torch's defaults, as Tianshou's ``AdamOptimizerFactory``, in its fused form: the
    same update in one kernel per step, about three times faster on the 240-action heads."""
    return TorchOptimizerFactory(torch.optim.Adam, lr=learning_rate, fused=True)


class TianshouAgent(DeepRLAgent):
    """Base: one Tianshou algorithm per row, trained by :meth:`train`."""

    hyperparameters: ClassVar[dict[str, str]] = {"lr": "learning_rate", "envs": "n_envs"}
    # Collection every quarter episode by 5 environments (5 steps each): batched policy calls
    # and less collector overhead per step, the same updates per step (docs/benchmarks.md).
    n_envs = 5
    masked: ClassVar[bool] = False
    prioritized: ClassVar[bool] = False
    settings: ClassVar[dict[str, Any]] = {
        "batch_size": 64,
        "updates_per_step": 0.25,
        "buffer": 50_000,
    }

    def build(self, obs_size: int, actions: int):
        raise NotImplementedError

    def _env(self, scenario: Scenario, stream: np.random.Generator, report) -> gym.Env:
        env: gym.Env = EpisodeMetrics(CloudEdgeLLMEnv(scenario, flatten_actions=True), report)
        if self.masked:
            env = MaskedObservation(env)
        # Every reset draws its episode's seed from the row's one stream, as the runner's env
        # does: the collector resets the environments in order, so env i plays episodes
        # i, i + n, i + 2n, ... of it.
        env.unwrapped.np_random = stream
        return env

    def train(
        self,
        phases: Sequence[tuple[int, Scenario, int]],
        episodes: int,
        on_episode: Callable[[], None] | None = None,
    ) -> list[dict[str, np.ndarray]]:
        """Train every row for ``episodes`` episodes; return the per-episode metrics (B,).

        Row i's workloads in a phase are those of the runner's stream seeded ``seeds[i] + offset``,
        played by ``parallel_envs`` environments in turn; torch runs on one thread meanwhile.
        """
        bounds = [start for start, _, _ in phases[1:]] + [episodes]
        counts = [end - start for (start, _, _), end in zip(phases, bounds, strict=True)]
        for _, scenario, _ in phases:
            counts += [scenario.episode.num_tasks, self._collection_steps(scenario)]
        n_envs = parallel_envs(self.n_envs, counts)
        with torch_threads(1):
            return self._train(phases, bounds, n_envs, episodes, on_episode)

    @staticmethod
    def _collection_steps(scenario: Scenario) -> int:
        return scenario.episode.num_tasks // 4 or 1

    def _train(self, phases, bounds, n_envs, episodes, on_episode) -> list[dict[str, np.ndarray]]:
        obs_size = self.context.layout.size
        actions = int(np.prod(self.context.action_nvec))
        per_row, self.algorithms = [], []
        for seed in self.seeds:
            # Tianshou's replay buffers sample from numpy's global generator: seeded with torch's,
            # or a run depends on what ran before it in the same worker process.
            torch.manual_seed(seed)
            np.random.seed(seed)  # noqa: NPY002 - the global generator Tianshou reads
            random.seed(seed)
            curve: list[dict[str, np.ndarray]] = []

            def report(summary, curve=curve) -> None:
                curve.append(summary)
                if on_episode is not None:
                    on_episode()

            algorithm = self.build(obs_size, actions)
            buffer_cls = PrioritizedVectorReplayBuffer if self.prioritized else VectorReplayBuffer
            extra = {"alpha": 0.6, "beta": 0.4} if self.prioritized else {}
            buffer = buffer_cls(self.settings["buffer"], buffer_num=n_envs, **extra)
            for (start, scenario, offset), end in zip(phases, bounds, strict=True):
                steps = scenario.episode.num_tasks
                stream = np.random.default_rng(seed + offset)
                envs = DummyVectorEnv(
                    [lambda s=scenario, t=stream, r=report: self._env(s, t, r)] * n_envs
                )
                collector = Collector(algorithm, envs, buffer, exploration_noise=True)
                collector.reset_buffer()  # a new phase starts from an empty replay buffer
                # The trainer resets the environments (drawing the first episodes) when it starts.
                algorithm.run_training(
                    OffPolicyTrainerParams(
                        training_collector=collector,
                        max_epochs=end - start,
                        epoch_num_steps=steps,
                        collection_step_num_env_steps=self._collection_steps(scenario),
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
        masks = observation_mask(self.context, observation, flat=True) if self.masked else None
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
    # One environment: its time goes into the updates, so 5 gained only 15-20 %, and after
    # 30 episodes its completion was lower at most seeds tried (docs/benchmarks.md).
    n_envs = 1
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
            optim=adam(self.learning_rate),
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
        optim = adam(self.learning_rate)
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
