"""The discrete active-inference engine: any :class:`~aif_offload.pomdp.ModelSpec` on pymdp.

The engine owns what every discrete model shares: one batched pymdp ``Agent`` (batch = number of
seeds), one jitted perceive-learn-plan-act step (:func:`decision_step`, compiled once per model
shape and reused across steps, episodes and agents), per-row PRNG keys, online Dirichlet learning
of A and B, freezing for evaluation, per-step beliefs. The model brings the rest, as a
:class:`DiscreteModel`: the spec (factors, modalities, controls and their arrays) and an adapter
that speaks the environment's language (:class:`DiscreteAdapter`). ``aif-pymdp`` is this engine
with the offloading POMDP of ``models/``; ``aif-pymdp@model=my_model.py:build`` runs a user's.
The walkthrough is ``docs/models.md`` ("Your own model").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, Protocol, runtime_checkable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
import xarray as xr
from pymdp import control

from aif_offload.agents.base import Agent, EnvContext, Transition
from aif_offload.agents.model_source import ModelSource
from aif_offload.pomdp import AgentConfig, ModelSpec, make_agent
from aif_offload.pomdp.learning import dirichlet_step
from aif_offload.sim.outcome import Outcome


@runtime_checkable
class DiscreteAdapter(Protocol):
    """Between the environment and a discrete model: observations in, actions out.

    Every array has the batch (one row per seed) first. The adapter may keep state across the
    steps of an episode (e.g. the outcome of the last task, which arrives with the transition).
    """

    def begin_episode(self) -> None:
        """Forget what belongs to the last episode."""

    def observe_levels(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        """The level of every modality of the spec, by name: (B,) ints in [0, levels)."""

    def to_action(self, observation: np.ndarray, controls: dict[str, np.ndarray]) -> np.ndarray:
        """The environment action (B, 4) for the chosen level (B,) of every control, by name."""

    def observe(self, transition: Transition) -> None:
        """See the step's transition (``transition.info`` has the task's outcome)."""


@dataclass(frozen=True)
class DiscreteModel:
    """What a discrete model's ``build(agent)`` returns.

    ``config``: pymdp options (precisions, learning, ``policy_len``), None for the engine's
    :func:`default_config`; its ``batch_size`` must be the agent's. ``outcome_modalities``: the
    modalities whose surprise under the prior predictive is reported per episode
    (``mean_surprise``); None for all. ``concentrations``: the model's own Dirichlet counts of
    some A / B arrays, by modality or factor name, in place of ``pA_scale * A`` /
    ``pB_scale * B`` (:func:`aif_offload.pomdp.build.build`); None for none.
    """

    spec: ModelSpec
    adapter: DiscreteAdapter
    config: AgentConfig | None = None
    outcome_modalities: tuple[str, ...] | None = None
    concentrations: Mapping[str, np.ndarray] | None = None


def default_config(batch_size: int) -> AgentConfig:
    """The engine's default options (Dirichlet scales, precisions, stochastic actions, 16
    fixed-point iterations of state inference: exact or near it for any model). A model may
    return its own in :class:`DiscreteModel` (the shipped one runs one iteration, exact there)."""
    return AgentConfig(
        batch_size=batch_size,
        learn_A=True,
        learn_B=True,
        pA_scale=50.0,
        pB_scale=20.0,
        gamma=16.0,
        alpha=16.0,
        action_selection="stochastic",
    )


@eqx.filter_jit  # with_utility, a Python bool, is static (one compile per value)
def decision_step(agent, obs, prior, qs_prev, action_prev, keys, lr, *, with_utility=True):
    """Perceive (infer states), learn (Dirichlet A/B), plan (EFE), act, and predict the next prior.

    ``obs``: list of (B,) int observations; ``prior``/``qs_prev``: lists of (B, n_f);
    ``action_prev``: (B, n_factors) flat pymdp action of the last step, -1 where there is none;
    ``keys``: (B, 2) PRNG keys; ``lr``: learning-rate scalar (0 = frozen, no recompile);
    ``with_utility``: also return the utility part of the EFE (for the belief record; the decision
    does not need it, and it costs a second pass over the policies).
    Returns the updated agent and a dict of outputs.
    """
    # Surprise of the observed outcome under the prior predictive (prediction error).
    predict = partial(control.compute_expected_obs, A_dependencies=agent.A_dependencies)
    qo_prior = jax.vmap(predict)(prior, agent.A)
    qs, info = agent.infer_states(obs, prior, return_info=True)
    latest = jtu.tree_map(lambda x: x[:, -1], qs)
    # The one-step Dirichlet update of pymdp's infer_parameters, without its sequence machinery
    # (any A/B dependencies; tests/pomdp/test_learning.py checks it against pymdp's).
    agent = dirichlet_step(agent, latest, obs, qs_prev, action_prev, lr)
    q_pi, neg_efe = agent.infer_policies(qs)
    split = jax.vmap(jr.split)(keys)
    action = agent.sample_action(q_pi, rng_key=split[:, 0])
    prior_next = agent.update_empirical_prior(action, qs)
    out = {
        "qs": latest,
        "q_pi": q_pi,
        "neg_efe": neg_efe,
        "vfe": info["vfe"].reshape(agent.batch_size, -1)[:, -1],
        "qo_prior": qo_prior,
        "action": action,
        "multi_action": agent.decode_multi_actions(action),
        "prior_next": prior_next,
        "keys": split[:, 1],
    }
    if with_utility:
        utility_only = partial(
            control.update_posterior_policies_inductive,
            agent.policies.policy_arr,
            A_dependencies=agent.A_dependencies,
            B_dependencies=agent.B_dependencies,
            use_utility=True,
            use_states_info_gain=False,
            use_param_info_gain=False,
            use_inductive=False,
        )
        _, out["utility"] = jax.vmap(utility_only)(
            latest,
            agent.A,
            agent.B,
            agent.C,
            agent.E,
            agent.pA,
            agent.pB,
            I=agent.I,
            gamma=agent.gamma,
            inductive_epsilon=agent.inductive_epsilon,
        )
    return agent, out


class DiscreteAifAgent(Agent):
    """Active inference over the discrete model that ``model`` builds (see the module docstring).

    ``model`` (class attribute, variant key ``model``): ``path.py:callable`` or
    ``module:callable``; the callable gets this agent (``agent.context``, ``agent.seeds``) and
    returns a :class:`DiscreteModel`. A ``model`` passed to the constructor takes its place.
    """

    name: ClassVar[str] = "discrete-aif"
    summary: ClassVar[str] = "Discrete active inference (pymdp) on a user's model."
    learns = True
    model: ClassVar[ModelSource | str] = ""
    hyperparameters: ClassVar[dict[str, str]] = {"model": "model"}

    def __init__(
        self,
        context: EnvContext,
        *,
        seeds: Sequence[int],
        model: DiscreteModel | None = None,
        config: AgentConfig | None = None,
        record: bool = True,
    ) -> None:
        super().__init__(context, seeds=seeds)
        batch = context.batch_size
        built = model if model is not None else self._build_model()
        if not isinstance(built, DiscreteModel):
            raise ValueError(
                f"model: '{self.model}' returned {type(built).__name__}; a discrete model's "
                "build(agent) must return aif_offload.agents.discrete_engine.DiscreteModel"
                "(spec, adapter)"
            )
        if not isinstance(built.spec, ModelSpec) or not isinstance(built.adapter, DiscreteAdapter):
            raise ValueError(
                "model: DiscreteModel needs spec = an aif_offload.pomdp.ModelSpec and adapter = "
                "an object with begin_episode, observe_levels, to_action and observe"
            )
        self.spec = built.spec
        self.adapter = built.adapter
        self.config = config or built.config or default_config(batch)
        if self.config.batch_size != batch:
            raise ValueError(
                f"config.batch_size: must equal the batch ({batch}), got {self.config.batch_size}"
            )
        self.pymdp = make_agent(self.spec, self.config, built.concentrations)
        self.factors = list(self.spec.factors)
        self.modalities = list(self.spec.modalities)
        self.controls = list(self.spec.controls)
        outcome = built.outcome_modalities
        self.outcome_modalities = tuple(self.modalities if outcome is None else outcome)
        unknown = sorted(set(self.outcome_modalities) - set(self.modalities))
        if unknown:
            raise ValueError(
                f"outcome_modalities: {unknown} are not modalities of model '{self.spec.name}' "
                f"(modalities: {self.modalities})"
            )
        self.keys = jnp.stack([jr.PRNGKey(s) for s in self.seeds])
        self.record = record
        self._lr = jnp.float32(1.0)
        self._log: dict[str, list[np.ndarray]] = {}
        self._episode = -1
        self._steps_in_episode = 0
        self._checked = False
        self.begin_episode()

    def _build_model(self) -> object:
        if not self.model:
            raise ValueError(f"model: {type(self).__name__} needs a model (model=file.py:build)")
        return ModelSource(self.model).build(self)

    # ---- protocol ------------------------------------------------------------------------

    def begin_episode(self) -> None:
        batch = self.context.batch_size
        if self._steps_in_episode > 0 or self._episode < 0:
            self._episode += 1
        self._steps_in_episode = 0
        self.prior = list(self.pymdp.D)
        self.qs_prev = list(self.pymdp.D)
        self.action_prev = -jnp.ones((batch, len(self.factors)), dtype=jnp.int32)
        self.adapter.begin_episode()
        self._episode_vfe: list[np.ndarray] = []
        self._episode_surprise: list[np.ndarray] = []

    def discretise(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        """Discrete observation of every modality, (B,) ints by modality name (the adapter's)."""
        obs = self.adapter.observe_levels(observation)
        if not self._checked:  # once: a wrong adapter fails here, not deep inside pymdp
            self._check_levels(obs)
            self._checked = True
        return obs

    def _check_levels(self, obs: dict[str, np.ndarray]) -> None:
        missing = [m for m in self.modalities if m not in obs]
        if missing:
            raise ValueError(
                f"adapter: observe_levels must give every modality of model '{self.spec.name}'; "
                f"missing {missing}"
            )
        for m in self.modalities:
            value = np.asarray(obs[m])
            n = len(self.spec.levels(m))
            if value.shape != (self.context.batch_size,) or not np.all((value >= 0) & (value < n)):
                raise ValueError(
                    f"adapter: observe_levels['{m}'] must be ({self.context.batch_size},) ints "
                    f"in [0, {n}), got {value.tolist()}"
                )

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        obs = self.discretise(observation)
        self._steps_in_episode += 1
        obs_list = [jnp.asarray(obs[m], dtype=jnp.int32) for m in self.modalities]
        self.pymdp, out = decision_step(
            self.pymdp,
            obs_list,
            self.prior,
            self.qs_prev,
            self.action_prev,
            self.keys,
            self._lr,
            with_utility=self.record,
        )
        self.keys = out["keys"]
        self.prior = out["prior_next"]
        self.qs_prev = out["qs"]
        self.action_prev = out["action"]
        surprise = self._outcome_surprise(out["qo_prior"], obs)
        vfe = np.asarray(out["vfe"])
        self._episode_vfe.append(vfe)
        self._episode_surprise.append(surprise)
        multi = np.asarray(out["multi_action"]).astype(np.int64)
        chosen = {c: multi[:, i] for i, c in enumerate(self.controls)}
        action = np.asarray(self.adapter.to_action(observation, chosen))
        self._check_action(action)
        if self.record:
            self._record_step(out, obs, vfe, surprise, action)
        return action

    def _check_action(self, action: np.ndarray) -> None:
        nvec = np.asarray(self.context.action_nvec)
        shape = (self.context.batch_size, nvec.size)
        if (
            action.shape != shape
            or not np.issubdtype(action.dtype, np.integer)
            or np.any((action < 0) | (action >= nvec))
        ):
            raise ValueError(
                f"adapter: to_action must return {shape} ints with column k in [0, "
                f"{nvec.tolist()}[k]), got shape {action.shape} dtype {action.dtype}"
            )

    def _record_step(self, out, obs, vfe, surprise, action) -> None:
        self._append("episode", np.full(len(action), self._episode))
        for f, q in zip(self.factors, out["qs"], strict=True):
            self._append(f"q_{f}", np.asarray(q))
        for key in ("q_pi", "neg_efe", "utility"):
            self._append(key, np.asarray(out[key]))
        self._append("vfe", vfe)
        self._append("surprise", surprise)
        self._append("action", action)
        for m in self.modalities:
            self._append(f"obs_{m}", obs[m])

    def observe(self, transition: Transition) -> None:
        self.adapter.observe(transition)

    def _outcome_surprise(self, qo_prior, obs: dict[str, np.ndarray]) -> np.ndarray:
        """-log p(observed level) under the prior predictive, summed over the outcome
        modalities."""
        total = np.zeros(self.context.batch_size)
        rows = np.arange(self.context.batch_size)
        for m, qo in zip(self.modalities, qo_prior, strict=True):
            if m in self.outcome_modalities:
                p = np.asarray(qo)[rows, obs[m]]
                total += -np.log(np.maximum(p, 1e-12))
        return total

    def freeze(self) -> None:
        """Stop learning A and B (the same compiled step runs with learning rate 0)."""
        self._lr = jnp.float32(0.0)

    def end_episode(self) -> dict[str, np.ndarray]:
        if not self._episode_vfe:
            return {}
        return {
            "mean_vfe": np.mean(self._episode_vfe, axis=0),
            "mean_surprise": np.mean(self._episode_surprise, axis=0),
        }

    # ---- beliefs -------------------------------------------------------------------------

    def _append(self, key: str, value: np.ndarray) -> None:
        self._log.setdefault(key, []).append(value)

    def _stacker(self):
        """(stacked, coords): ``stacked(key)`` lays a recorded key out as (seed, episode, step,
        ...), NaN (-1 for integers) past the end of a shorter episode."""
        episode_of = np.asarray(self._log["episode"])[:, 0]
        episodes, position = np.unique(episode_of, return_inverse=True)
        step_in = np.zeros_like(episode_of)
        for e in range(episodes.size):
            step_in[position == e] = np.arange((position == e).sum())
        steps = int(step_in.max()) + 1

        def stacked(key: str) -> np.ndarray:
            flat = np.stack(self._log[key], axis=1)
            fill = np.nan if np.issubdtype(flat.dtype, np.floating) else -1
            out = np.full(
                (flat.shape[0], episodes.size, steps, *flat.shape[2:]), fill, dtype=flat.dtype
            )
            out[:, position, step_in] = flat
            return out

        coords = {
            "seed": self.seeds,
            "episode": episodes,
            "step": np.arange(steps),
            "policy": self._policy_labels(),
        }
        return stacked, coords

    def belief_data(self):
        """Per-step beliefs of any model: ArviZ InferenceData, dims ``seed, episode, step``.

        ``filtering``: q(s) of every factor (``q_<factor>``, dim ``<factor>``), q(pi), the
        negative EFE, its utility and information-gain parts, the VFE, the outcome surprise and
        the action; ``observed_data``: the level of every modality.
        """
        if not self._log.get("vfe"):
            return None
        stacked, coords = self._stacker()
        t = ("seed", "episode", "step")
        posterior = {}
        for f in self.factors:
            posterior[f"q_{f}"] = ((*t, f), stacked(f"q_{f}"))
            coords[f] = list(self.spec.levels(f))
        groups = {
            "filtering": posterior | self._policy_stats(stacked),
            "observed_data": {m: (t, stacked(f"obs_{m}")) for m in self.modalities},
        }
        return self._inference_data(groups, coords)

    def _policy_stats(self, stacked) -> dict:
        t = ("seed", "episode", "step")
        stats = {k: ((*t, "policy"), stacked(k)) for k in ("q_pi", "neg_efe", "utility")}
        stats["info_gain"] = ((*t, "policy"), stacked("neg_efe") - stacked("utility"))
        stats["vfe"] = (t, stacked("vfe"))
        stats["surprise"] = (t, stacked("surprise"))
        stats["action"] = ((*t, "action_entry"), stacked("action"))
        return stats

    def _inference_data(self, groups: dict, coords: dict, extra: dict | None = None):
        import arviz as az

        datasets = {}
        for name, variables in groups.items():
            ds = xr.Dataset(variables)
            datasets[name] = ds.assign_coords({k: v for k, v in coords.items() if k in ds.dims})
            datasets[name].attrs.update(
                {"agent": self.name, "model": self.spec.name, "config": repr(self.config.as_dict())}
            )
        for m in self.modalities:
            datasets["observed_data"][m].attrs["levels"] = ", ".join(self.spec.levels(m))
        datasets.update(extra or {})
        return az.InferenceData(**datasets, warn_on_custom_groups=False)

    def _policy_labels(self) -> list[str]:
        labels = []
        for row in np.asarray(self.pymdp.policies.policy_arr)[:, 0]:
            multi = np.asarray(self.pymdp.decode_multi_actions(jnp.asarray(row)[None]))[0]
            labels.append(
                "/".join(
                    self.spec.levels(c)[int(i)] for c, i in zip(self.controls, multi, strict=True)
                )
            )
        return labels
