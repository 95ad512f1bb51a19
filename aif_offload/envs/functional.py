"""A gymnax-style functional environment over the JAX simulator core.

``reset(key, params) -> (obs, state)`` and ``step(key, state, action, params) -> (obs, state,
reward, done, info)``: the five-value step of gymnax below 1.0 (what rejax 0.1.3 expects), with
gymnax's auto-reset (a finished episode is replaced by a fresh one inside ``step``). Everything is a
pure function of its arguments, so ``jax.vmap`` batches environments (and seeds, and deadlines via
``params.t_max_s``) and ``jax.jit`` / ``lax.scan`` compile whole rollouts.

Semantics are those of ``aif_offload/CloudEdgeLLM-v0`` with ``flatten_actions=True``: the same
observation vector (:mod:`aif_offload.envs.observation`), the same flat action index (row-major over
server, compute, bandwidth, memory level), the same rewards and ``info`` keys (``failure`` stays an
integer code, :data:`aif_offload.sim.outcome.FAILURE_REASONS`). Differences: randomness comes from
JAX keys, so trajectories equal the Gymnasium env's only when both are fed the same draws (the tests
do); episodes only truncate, and ``done`` is that truncation (``info["truncated"]``; gymnax has no
separate flag, so a learner that bootstraps must read it); the hidden world's server speeds come
from ``params.world_key`` (one world per run, as the Gymnasium env's ``world_seed``).

Cost of auto-reset: gymnax's ``step`` builds a fresh episode at every step and selects it where
``done``; under ``vmap`` the same holds for :meth:`FunctionalEnv.step`. :func:`batch_step` steps a
batch and resets only when some environment of it has finished (one episode build per N steps).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from aif_offload.envs.core import REWARD_KINDS, RewardKind, outcome_info, resolve_scenario
from aif_offload.envs.jax_spaces import Box, Discrete
from aif_offload.envs.observation import ObservationLayout
from aif_offload.sim.jax_core import Episode, JaxCore, SimState
from aif_offload.sim.jax_reset import EpisodeBuilder
from aif_offload.sim.llm_latency import kv_cache_bytes_per_token
from aif_offload.sim.scenario import Scenario


class EnvParams(NamedTuple):
    """What may vary between vmapped environments without recompiling."""

    t_max_s: jax.Array  # deadline of every task (s)
    world_key: jax.Array  # the hidden world's stream (server speed factors)


class EnvState(NamedTuple):
    episode: Episode
    sim: SimState

    @property
    def time(self) -> jax.Array:
        """Tasks dispatched in this episode (gymnax's ``state.time``)."""
        return self.sim.task_index


class FunctionalEnv:
    """``aif_offload/CloudEdgeLLM-v0`` (flat actions) as pure functions of keys, state and params.

    Parameters
    ----------
    scenario : Scenario or str
        An embedded scenario name, a TOML path or a ``Scenario``.
    t_max_s, load_percent : float, optional
        Overrides of the scenario's deadline and load (the deadline can also vary per environment
        through ``EnvParams.t_max_s``; the load fixes the episode length, so it is static).
    reward : {"eq14", "completion"}
        Eq. 14 (the paper) or 1 per completed task.
    """

    def __init__(
        self,
        scenario: Scenario | str = "paper",
        *,
        t_max_s: float | None = None,
        load_percent: float | None = None,
        reward: RewardKind = "eq14",
    ) -> None:
        if reward not in REWARD_KINDS:
            raise ValueError(f"reward: unknown kind '{reward}', allowed: {', '.join(REWARD_KINDS)}")
        self.scenario = resolve_scenario(scenario, t_max_s, load_percent)
        self.core = JaxCore(self.scenario)
        self.builder = EpisodeBuilder(self.core)
        self.layout = ObservationLayout.for_scenario(self.scenario)
        self.obs_low, self.obs_high = self.layout.bounds(self.scenario)
        self.reward_kind = reward
        self.nvec = self.core.action_nvec
        self._kv_per_token = kv_cache_bytes_per_token(self.core.servers.profiles[0].model)

    # gymnax's Environment interface -----------------------------------------------------
    @property
    def default_params(self) -> EnvParams:
        return EnvParams(
            t_max_s=jnp.asarray(self.scenario.episode.t_max_s), world_key=jax.random.key(0)
        )

    @property
    def name(self) -> str:
        return "CloudEdgeLLM-functional"

    @property
    def num_actions(self) -> int:
        return int(self.nvec[0] * self.nvec[1] * self.nvec[2] * self.nvec[3])

    def action_space(self, params: EnvParams | None = None) -> Discrete:
        return Discrete(self.num_actions)

    def observation_space(self, params: EnvParams | None = None) -> Box:
        return Box(jnp.asarray(self.obs_low), jnp.asarray(self.obs_high), (self.layout.size,))

    def reset(self, key: jax.Array, params: EnvParams | None = None) -> tuple[jax.Array, EnvState]:
        params = self.default_params if params is None else params
        return self.reset_env(key, params)

    def step(
        self,
        key: jax.Array,
        state: EnvState,
        action: jax.Array,
        params: EnvParams | None = None,
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[str, Any]]:
        """Step, then replace a finished episode by a fresh one (gymnax's auto-reset)."""
        params = self.default_params if params is None else params
        key_step, key_reset = jax.random.split(key)
        obs, state, reward, done, info = self.step_env(key_step, state, action, params)
        obs_re, state_re = self.reset_env(key_reset, params)
        state = jax.tree.map(lambda x, y: jax.lax.select(done, x, y), state_re, state)
        obs = jax.lax.select(done, obs_re, obs)
        return obs, state, reward, done, info

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        episode = self.builder.build(self.builder.draw(key, params.world_key))
        state = EnvState(episode, self.core.initial_state(episode))
        return self.get_obs(state, params), state

    def step_env(
        self, key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[str, Any]]:
        """One dispatch without auto-reset (``key`` is unused: a step draws nothing)."""
        del key
        multi = self.to_multi(action)
        truth = self.core.truth(state.episode, state.sim, params.t_max_s)
        sim, result = self.core.step(state.episode, state.sim, multi, params.t_max_s)
        new = EnvState(state.episode, sim)
        done = self.core.done(sim)
        if self.reward_kind == "completion":
            reward = result.completed.astype(state.episode.arrival_s.dtype)
        else:
            reward = result.reward
        info = {
            **truth,
            **outcome_info(result),
            "truncated": done,
            "discount": jnp.ones_like(reward),  # truncation, never termination
            "tenant_jumps_clipped": state.episode.tenant_jumps_clipped,
        }
        return self.get_obs(new, params), new, reward, done, info

    def get_obs(self, state: EnvState, params: EnvParams | None = None) -> jax.Array:
        """The flat float32 observation, in :class:`ObservationLayout` order, clipped to bounds."""
        params = self.default_params if params is None else params
        view = self.core.agent_view(state.episode, state.sim, params.t_max_s)
        rows = [
            view.distance_km,
            view.remaining_fraction[0],
            view.remaining_fraction[1],
            view.remaining_fraction[2],
            jnp.stack(
                [
                    view.prompt_tokens / 1000.0,
                    view.output_tokens / 1000.0,
                    view.request_kb,
                    view.reply_kb,
                    view.t_max_s,
                ]
            ),
        ]
        if self.layout.clock:
            rows.append(view.gap_s[None])
        flat = jnp.concatenate(rows).astype(jnp.float32)
        return jnp.clip(flat, self.obs_low, self.obs_high)

    def is_terminal(self, state: EnvState, params: EnvParams | None = None) -> jax.Array:
        return self.core.done(state.sim)

    def discount(self, state: EnvState, params: EnvParams | None = None) -> jax.Array:
        return jnp.ones(())

    # Beyond gymnax ---------------------------------------------------------------------
    def to_multi(self, action: jax.Array) -> jax.Array:
        """A flat action index (or an already split (4,) action) as (4,) level indices."""
        action = jnp.asarray(action)
        if action.shape == (4,):
            return action
        return jnp.stack(jnp.unravel_index(action, self.nvec))

    def action_mask(self, state: EnvState, params: EnvParams | None = None) -> jax.Array:
        """(num_actions,) allocations that fit what the agent is told (the reported load and the
        KV cache of the prompt and the predicted output); all open when none fits. As
        ``CloudEdgeLLMEnv.action_masks`` with flat actions."""
        params = self.default_params if params is None else params
        view = self.core.agent_view(state.episode, state.sim, params.t_max_s)
        servers, levels = self.core.servers, self.scenario.actions
        remaining = view.remaining_fraction * jnp.asarray(servers.capacity)
        told_gb = (view.prompt_tokens + view.output_tokens) * self._kv_per_token / 1e9
        tolerance = 1e-9
        compute = jnp.asarray(levels.compute_shares)[None, :] * servers.gpu_tflops[:, None]
        ok_c = compute <= remaining[0][:, None] + tolerance  # (S, C)
        ok_w = jnp.asarray(levels.bandwidth_mhz)[None, :] <= remaining[1][:, None] + tolerance
        memory = jnp.asarray(levels.memory_gb)[None, :]
        ok_m = (memory <= remaining[2][:, None] + tolerance) & (memory >= told_gb)
        joint = ok_c[:, :, None, None] & ok_w[:, None, :, None] & ok_m[:, None, None, :]
        flat = joint.reshape(-1)
        return jnp.where(flat.any(), flat, True)


def batch_step(
    env: FunctionalEnv,
    key: jax.Array,
    state: EnvState,
    action: jax.Array,
    params: EnvParams,
) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[str, Any]]:
    """Step a batch (leading axis B on ``state``, ``action`` and ``params``) with auto-reset that
    builds new episodes only on steps where some environment has finished.

    The same transitions as ``jax.vmap(env.step)`` given the same keys (``key``: (B,) keys).
    """
    keys = jax.vmap(jax.random.split)(key)
    obs, state, reward, done, info = jax.vmap(env.step_env)(keys[:, 0], state, action, params)

    def reset(carry):
        obs, state = carry
        obs_re, state_re = jax.vmap(env.reset_env)(keys[:, 1], params)

        def pick(fresh, old):
            mask = done.reshape(done.shape + (1,) * (old.ndim - 1))
            return jnp.where(mask, fresh, old)

        return pick(obs_re, obs), jax.tree.map(pick, state_re, state)

    obs, state = jax.lax.cond(done.any(), reset, lambda carry: carry, (obs, state))
    return obs, state, reward, done, info
