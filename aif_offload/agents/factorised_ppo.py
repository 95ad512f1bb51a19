"""rejax's PPO with SB3's MultiDiscrete action head and SB3's optimiser settings.

rejax 0.1.3 has no MultiDiscrete: on our Discrete(240) env it learns one categorical over the 240
joint actions, where SB3's ``ppo`` learns one categorical per action dimension (5 + 4 + 3 + 4 = 16
logits, their log-probabilities and entropies summed). :class:`FactorisedPolicy` is that
factorised head behind rejax's actor interface: it samples each dimension, hands the env the flat
index (C order, as ``np.unravel_index`` in ``RejaxAgent.act`` and ``FunctionalEnv.to_multi``
decode it) and scores a flat action by decoding it back. :class:`FactorisedPPO` also takes SB3's
defaults where rejax's differ and a subclass can change them: gradient clipping by global norm
(rejax clips each element), Adam eps 1e-5 and an unclipped value loss. The PPO update itself is
rejax's, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from flax import struct
from flax.training.train_state import TrainState
from rejax import PPO
from rejax.algos.algorithm import register_init
from rejax.networks import MLP, VNetwork


def flat_index(parts: jax.Array, nvec: Sequence[int]) -> jax.Array:
    """(..., D) per-dimension levels -> (...,) flat index, C order (as ``np.ravel_multi_index``)."""
    return jnp.ravel_multi_index(tuple(jnp.moveaxis(parts, -1, 0)), tuple(nvec), mode="clip")


def split_index(flat: jax.Array, nvec: Sequence[int]) -> jax.Array:
    """(...,) flat index -> (..., D) per-dimension levels (as ``np.unravel_index``)."""
    return jnp.stack(jnp.unravel_index(flat, tuple(nvec)), axis=-1)


class FactorisedPolicy(nn.Module):
    """One categorical per action dimension on a shared MLP (SB3's MultiDiscrete head)."""

    nvec: tuple[int, ...]
    hidden_layer_sizes: Sequence[int]
    activation: Callable

    def setup(self):
        self.features = MLP(self.hidden_layer_sizes, self.activation)
        self.action_logits = nn.Dense(sum(self.nvec))

    def logits(self, obs) -> list[jax.Array]:
        """Per dimension, (..., n_d) log-softmaxed logits."""
        flat = self.action_logits(self.features(obs))
        bounds = list(np.cumsum(self.nvec)[:-1])  # static: NumPy, not traced
        return [jax.nn.log_softmax(part) for part in jnp.split(flat, bounds, axis=-1)]

    def _sample(self, obs, rng):
        logits = self.logits(obs)
        keys = jax.random.split(rng, len(logits))
        parts = jnp.stack(
            [jax.random.categorical(k, lp) for k, lp in zip(keys, logits, strict=True)], axis=-1
        )
        return flat_index(parts, self.nvec), logits

    def log_prob_entropy(self, obs, action):
        logits = self.logits(obs)
        parts = split_index(action, self.nvec)
        log_prob = sum(
            jnp.take_along_axis(lp, parts[..., d : d + 1], axis=-1)[..., 0]
            for d, lp in enumerate(logits)
        )
        entropy = sum(-(jnp.exp(lp) * lp).sum(-1) for lp in logits)
        return log_prob, entropy

    def __call__(self, obs, rng):
        action, _ = self._sample(obs, rng)
        log_prob, entropy = self.log_prob_entropy(obs, action)
        return action, log_prob, entropy

    def act(self, obs, rng):
        return self._sample(obs, rng)[0]

    def action_log_prob(self, obs, rng):
        action, _ = self._sample(obs, rng)
        return action, self.log_prob_entropy(obs, action)[0]

    def mode(self, obs):
        """The flat index of every dimension's most likely level."""
        parts = jnp.stack([jnp.argmax(lp, -1) for lp in self.logits(obs)], axis=-1)
        return flat_index(parts, self.nvec)


class FactorisedPPO(PPO):
    """rejax PPO with :class:`FactorisedPolicy` (``agent_kwargs["nvec"]``) and SB3's optimiser."""

    clip_value_loss: bool = struct.field(pytree_node=False, default=False)  # SB3: no clip_range_vf
    adam_eps: float = struct.field(pytree_node=False, default=1e-5)  # SB3's; optax's is 1e-8
    global_norm_clip: bool = struct.field(pytree_node=False, default=True)  # SB3 clips the norm

    @classmethod
    def create_agent(cls, config, env, env_params):
        agent_kwargs = dict(config.pop("agent_kwargs", {}))
        nvec = tuple(agent_kwargs.pop("nvec"))
        activation = getattr(nn, agent_kwargs.pop("activation", "tanh"))
        sizes = tuple(agent_kwargs.pop("hidden_layer_sizes", (64, 64)))
        if agent_kwargs:
            raise ValueError(f"agent_kwargs: unknown {sorted(agent_kwargs)}")
        actor = FactorisedPolicy(nvec, sizes, activation)
        return {"actor": actor, "critic": VNetwork(sizes, activation)}

    @register_init
    def initialize_network_params(self, rng):
        rng, rng_actor, rng_critic = jax.random.split(rng, 3)
        obs_ph = jnp.empty([1, *self.env.observation_space(self.env_params).shape])
        actor_params = self.actor.init(rng_actor, obs_ph, rng_actor)
        critic_params = self.critic.init(rng_critic, obs_ph)
        clip = optax.clip_by_global_norm if self.global_norm_clip else optax.clip
        tx = optax.chain(
            clip(self.max_grad_norm), optax.adam(self.learning_rate, eps=self.adam_eps)
        )
        return {
            "actor_ts": TrainState.create(apply_fn=(), params=actor_params, tx=tx),
            "critic_ts": TrainState.create(apply_fn=(), params=critic_params, tx=tx),
        }

    def update_critic(self, ts, batch):
        if self.clip_value_loss:
            return super().update_critic(ts, batch)

        def critic_loss_fn(params):
            value = self.critic.apply(params, batch.trajectories.obs)
            return self.vf_coef * 0.5 * jnp.square(value - batch.targets).mean()

        grads = jax.grad(critic_loss_fn)(ts.critic_ts.params)
        return ts.replace(critic_ts=ts.critic_ts.apply_gradients(grads=grads))
