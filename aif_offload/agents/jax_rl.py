"""Deep-RL baselines from rejax 0.1.3 (PPO, DQN, discrete SAC), trained in JAX, seeds vmapped.

Like the SB3 agents, these train themselves (``trains_itself``) on the scenario of each training
phase for exactly ``episodes`` x tasks-per-episode environment steps per seed, then act at
evaluation on the runner's observations. Unlike them, every seed of the batch trains in one
compiled call: ``jax.vmap`` over the seeds of rejax's own ``train_iteration``, on
:class:`~aif_offload.agents.jax_training_env.TrainingEnv` (the functional environment, flat
Discrete actions, the observation of ``CloudEdgeLLM-v0``).

Training runs in rounds: a round is exactly one episode of each of the ``n_envs`` environments
(they all start and end together, the episode length being fixed), and all of them are reset at
once between rounds, outside the vmapped step, so an episode is built once and not at every step.
Workloads are fresh JAX draws per episode (the same distribution as the NumPy simulator's, not the
same numbers); the hidden server speeds are those of the run's world (``world_seed = seed``, as the
runner's). The rejax algorithm classes and their update rules are used unchanged; this module
supplies the outer loop that rejax's ``train`` would (its ``fori_loop`` of ``train_iteration``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from aif_offload.agents import declared
from aif_offload.agents.base import Agent
from aif_offload.agents.budget import parallel_envs
from aif_offload.agents.jax_training_env import TrainingEnv, episode_summaries
from aif_offload.scenarios import scenario_json
from aif_offload.sim.outcome import Outcome
from aif_offload.sim.scenario import Scenario

ROUNDS_PER_CALL = 20  # rounds per compiled call, at most: the granularity of progress reports
_ENV_FIELDS = ("env_state", "last_obs", "last_done")  # what a new phase replaces in a state


def _divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


class RejaxAgent(Agent):
    """Base of the rejax agents: one compiled, seed-vmapped training run for the whole batch."""

    learns = True
    trains_itself = True
    learning_rate: ClassVar[float]
    n_envs: ClassVar[int]
    hyperparameters: ClassVar[dict[str, str]] = {"lr": "learning_rate", "envs": "n_envs"}
    # Sample the learned policy at evaluation (policy-gradient methods, as their SB3 / Tianshou
    # counterparts do, docs/architecture.md) or take its mode / the greedy action.
    stochastic_evaluation: ClassVar[bool] = False
    # Environment steps of one environment per ``train_iteration``: PPO collects a rollout of
    # ``num_steps``, the off-policy methods step once.
    on_policy: ClassVar[bool] = False

    def algorithm(self) -> type:
        raise NotImplementedError

    def config(self, episode_steps: int, num_envs: int, total_steps: int) -> dict[str, Any]:
        """rejax keyword arguments (docs/baselines.md)."""
        raise NotImplementedError

    # Training -----------------------------------------------------------------------------
    def train(
        self,
        phases: Sequence[tuple[int, Scenario, int]],
        episodes: int,
        on_episode: Callable[[], None] | None = None,
    ) -> list[dict[str, np.ndarray]]:
        """Train every row for ``episodes`` episodes; return per-episode metrics (B,).

        ``phases`` lists (first episode, scenario, workload seed offset); row i trains from the
        key of ``seeds[i]`` (folded with the offset in later phases) in the world of ``seeds[i]``.
        """
        bounds = [start for start, _, _ in phases[1:]] + [episodes]
        lengths = [end - start for (start, _, _), end in zip(phases, bounds, strict=True)]
        n_envs = parallel_envs(
            self.n_envs, lengths + [scenario.episode.num_tasks for _, scenario, _ in phases]
        )
        curve: list[dict[str, np.ndarray]] = []
        self.train_state = None
        for (_, scenario, offset), length in zip(phases, lengths, strict=True):
            self.train_more(scenario, length, n_envs=n_envs, offset=offset, on_episode=on_episode)
            curve.extend(self._last_curve)
        return curve[:episodes]

    def train_more(
        self,
        scenario: Scenario,
        episodes: int,
        *,
        n_envs: int | None = None,
        offset: int = 0,
        on_episode: Callable[[], None] | None = None,
        total_episodes: int | None = None,
    ) -> None:
        """Continue training for ``episodes`` more episodes on ``scenario`` (checkpoints of a long
        run: ``analysis/drl_asymptote.py``). ``total_episodes`` sets what schedules that depend on
        the whole budget (DQN's exploration) are spread over; default: this call's episodes."""
        steps = scenario.episode.num_tasks
        n_envs = n_envs or parallel_envs(self.n_envs, [episodes, steps])
        if episodes % n_envs or steps % n_envs:
            raise ValueError(
                f"episodes: {episodes} must split evenly over {n_envs} environments "
                f"of {steps}-step episodes"
            )
        total = (total_episodes or episodes) * steps
        config = self.config(steps, n_envs, total)
        per_iteration = config["num_steps"] if self.on_policy else 1
        if steps % per_iteration:
            raise ValueError(f"n_steps: {per_iteration} must divide the episode's {steps} steps")
        rounds = episodes // n_envs
        chunk = _divisor_at_most(rounds, ROUNDS_PER_CALL)
        prepared = _prepare(self.algorithm(), scenario, config, steps // per_iteration, chunk)
        algo, env = prepared.algo, prepared.algo.env
        params = jax.tree.map(lambda *xs: jnp.stack(xs), *[env.params(s) for s in self.seeds])
        keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(s), offset) for s in self.seeds])
        if self.train_state is None:
            state = prepared.init(keys)
        elif getattr(self, "_phase", None) == (scenario, n_envs):
            state = self.train_state  # continuing where the last call stopped
        else:  # a new phase: fresh environments, the learned networks and optimisers kept
            state = prepared.init(keys).replace(
                **{
                    f.name: getattr(self.train_state, f.name)
                    for f in dataclasses.fields(self.train_state)
                    if f.name not in _ENV_FIELDS
                }
            )
        run = prepared.run
        self._last_curve = []
        for _ in range(rounds // chunk):
            state, sums = run(state, params)
            sums = jax.device_get(sums)  # (B, chunk, n_envs, ...)
            for r in range(chunk):
                for e in range(n_envs):
                    self._last_curve.append(
                        episode_summaries(jax.tree.map(lambda x, r=r, e=e: x[:, r, e], sums))
                    )
                    if on_episode is not None:
                        on_episode()
        self.algo, self.train_state, self._phase = algo, state, (scenario, n_envs)

    # Evaluation ---------------------------------------------------------------------------
    def freeze(self) -> None:
        self._act_keys = jnp.stack([jax.random.PRNGKey(s + 7) for s in self.seeds])
        self._policy = jax.jit(jax.vmap(self._row_action))

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        if not hasattr(self, "_policy"):
            self.freeze()  # acting before evaluation starts: the same policy
        split = jax.vmap(jax.random.split)(self._act_keys)
        self._act_keys, keys = split[:, 0], split[:, 1]
        flat = self._policy(self.train_state, jnp.asarray(observation, jnp.float32), keys)
        nvec = self.context.action_nvec
        return np.stack(np.unravel_index(np.asarray(flat), nvec), axis=1).astype(np.int64)

    def _row_action(self, state, obs: jax.Array, key: jax.Array) -> jax.Array:
        """One row's flat action for one observation (obs_dim,)."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class _Prepared:
    algo: Any
    init: Callable  # keys (B,) -> a batch of initial states
    run: Callable  # (states, env params) -> (states, episode sums (B, rounds, n_envs, ...))


_PREPARED: dict[tuple, _Prepared] = {}


def _prepare(cls: type, scenario: Scenario, config: dict, iterations: int, rounds: int):
    """The rejax algorithm and its compiled functions, built once per configuration: rejax makes
    a new state class at every ``init_state`` call, so without one class per configuration
    every training call would retrace and recompile (a minute on 2 busy cores)."""
    key = (cls, scenario_json(scenario), repr(sorted(config.items())), iterations, rounds)
    if key not in _PREPARED:
        env = TrainingEnv(scenario)
        algo = cls.create(env=env, env_params=env.params(0), skip_initial_evaluation=True, **config)
        template = algo.init_state(jax.random.PRNGKey(0))
        state_cls = type(template)

        def init(keys):
            batch = jax.vmap(algo.init_state)(keys)
            return state_cls(**{f.name: getattr(batch, f.name) for f in dataclasses.fields(batch)})

        _PREPARED[key] = _Prepared(algo, jax.jit(init), _compiled_rounds(algo, iterations, rounds))
    return _PREPARED[key]


def _compiled_rounds(algo, iterations: int, rounds: int):
    """``rounds`` rounds for every row (vmapped over rows' states and env params): reset all
    environments, ``iterations`` of rejax's ``train_iteration`` (exactly one episode each), keep
    each environment's episode sums."""

    def run(state, params):
        local = algo.replace(env_params=params)

        def one_round(s, _):
            rng, reset_rng = jax.random.split(s.rng)
            obs, env_state = jax.vmap(local.env.reset, in_axes=(0, None))(
                jax.random.split(reset_rng, local.num_envs), local.env_params
            )
            s = s.replace(
                rng=rng,
                env_state=env_state,
                last_obs=obs,
                last_done=jnp.zeros(local.num_envs, dtype=bool),
            )
            s = jax.lax.fori_loop(0, iterations, lambda _, x: local.train_iteration(x), s)
            return s, s.env_state.sums

        return jax.lax.scan(one_round, state, None, rounds)

    return jax.jit(jax.vmap(run))


# The three algorithms ----------------------------------------------------------------------
class PPOJaxAgent(declared.PPOJax, RejaxAgent):
    on_policy = True
    stochastic_evaluation = True  # as `ppo`
    learning_rate = 2.7e-3  # `ppo`'s tuned value (docs/baselines.md)
    n_envs = 5  # `ppo`'s: 5 environments x 20 steps = one episode per update
    num_epochs: ClassVar[int] = 10
    hyperparameters: ClassVar[dict[str, str]] = {
        "lr": "learning_rate",
        "envs": "n_envs",
        "epochs": "num_epochs",
    }

    def algorithm(self) -> type:
        # rejax's PPO with SB3's MultiDiscrete head and optimiser settings (factorised_ppo.py)
        from aif_offload.agents.factorised_ppo import FactorisedPPO

        return FactorisedPPO

    def config(self, episode_steps: int, num_envs: int, total_steps: int) -> dict[str, Any]:
        # SB3's PPO defaults where rejax's differ, and `ppo`'s rollout: one episode's worth of
        # steps per update, one minibatch (docs/baselines.md lists what still differs).
        return {
            "num_envs": num_envs,
            "num_steps": episode_steps // num_envs,
            "num_minibatches": 1,
            "num_epochs": self.num_epochs,
            "learning_rate": self.learning_rate,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "clip_eps": 0.2,
            "ent_coef": 0.0,
            "vf_coef": 0.5,
            "max_grad_norm": 0.5,
            "total_timesteps": total_steps,
            "agent_kwargs": {
                "activation": "tanh",
                "hidden_layer_sizes": (64, 64),
                "nvec": tuple(int(n) for n in self.context.action_nvec),
            },
        }

    def _row_action(self, state, obs, key):
        params = state.actor_ts.params
        if self.stochastic_evaluation:
            return self.algo.actor.apply(params, obs[None], key, method="act")[0]
        return self.algo.actor.apply(params, obs[None], method="mode")[0]


class DQNJaxAgent(declared.DQNJax, RejaxAgent):
    learning_rate = 1e-4  # `dqn`'s (SB3's default)
    n_envs = 4  # one update per 4 environment steps, as SB3's train_freq=4

    def algorithm(self) -> type:
        from rejax import DQN

        return DQN

    def config(self, episode_steps: int, num_envs: int, total_steps: int) -> dict[str, Any]:
        # SB3 DQN's defaults and `dqn`'s settings (docs/baselines.md).
        return {
            "num_envs": num_envs,
            "learning_rate": self.learning_rate,
            "buffer_size": 100_000,
            "fill_buffer": episode_steps,
            "batch_size": 32,
            "gamma": 0.99,
            "eps_start": 1.0,
            "eps_end": 0.05,
            "exploration_fraction": 0.3,
            "target_update_freq": 10_000,
            "polyak": 0.0,  # a hard copy at each target update
            "max_grad_norm": 10.0,
            "ddqn": False,
            "total_timesteps": total_steps,
            "agent_kwargs": {"activation": "relu"},
        }

    def _row_action(self, state, obs, key):
        q = self.algo.agent.apply(state.q_ts.params, obs[None])
        return jnp.argmax(q[0])


class SACJaxAgent(declared.SACJax, RejaxAgent):
    stochastic_evaluation = True  # as `sac`
    learning_rate = 3e-4  # rejax's default
    n_envs = 4

    def algorithm(self) -> type:
        from rejax import SAC

        return SAC

    def config(self, episode_steps: int, num_envs: int, total_steps: int) -> dict[str, Any]:
        return {
            "num_envs": num_envs,
            "learning_rate": self.learning_rate,
            "buffer_size": 100_000,
            "fill_buffer": episode_steps,
            "total_timesteps": total_steps,
        }

    def _row_action(self, state, obs, key):
        dist = self.algo.actor.apply(state.actor_ts.params, obs[None], method="_action_dist")
        return _pick(dist, key, self.stochastic_evaluation)


def _pick(dist, key: jax.Array, sample: bool) -> jax.Array:
    """A categorical policy's action: a draw from it, or its mode."""
    if sample:
        return dist.sample(seed=key)[0]
    return jnp.argmax(dist.logits[0])


def build(spec: str, scenario: Scenario, seeds: Sequence[int]) -> RejaxAgent:
    """A JAX agent for ``seeds`` on ``scenario``, with the context the runner would give it (the
    nominal view), for scripts that train it outside the runner (benchmarks, checkpoints)."""
    from aif_offload.agents import EnvContext, make_agent
    from aif_offload.envs.vector import CloudEdgeLLMVectorEnv

    probe = CloudEdgeLLMVectorEnv(1, scenario)
    context = EnvContext(
        probe.scenario.nominal_view(), probe.core.sim.action_nvec, probe.core.layout, len(seeds)
    )
    agent = make_agent(spec, context, seeds=seeds)
    if not isinstance(agent, RejaxAgent):
        raise ValueError(f"agent: '{spec}' is not a JAX agent (ppo-jax, dqn-jax, sac-jax)")
    agent.train_state = None
    return agent
