"""``aif-pymdp``: discrete active inference on pymdp with the offloading POMDP of ``models/``.

One pymdp ``Agent`` with ``batch_size`` = number of seeds runs all rows at once; one jitted
perceive-learn-plan-act step (:func:`decision_step`) is compiled once and reused across steps,
episodes and agent instances of the same shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
import xarray as xr
from pymdp import control

from aif_offload.agents import declared
from aif_offload.agents.allocation import Forecaster
from aif_offload.agents.base import Agent, EnvContext, Transition
from aif_offload.models.offloading_pomdp import (
    ACCURACY_LEVELS,
    LOAD_BINS,
    LOAD_LEVELS,
    OUTCOME_LEVELS,
    OffloadingParams,
    model_for_scenario,
)
from aif_offload.pomdp import AgentConfig, make_agent
from aif_offload.sim.outcome import Outcome

# Observation binning (see AifPymdpAgent's docstring).
NEAR_KM = 0.5  # nearest edge closer than this -> distance "near"
LONG_PROMPT_TOKENS = 256  # prompt of at least this many tokens -> task "long"


def load_level(remaining: np.ndarray) -> np.ndarray:
    """Index into LOAD_LEVELS of a fraction of compute left (thresholds LOAD_BINS)."""
    return np.searchsorted(-np.asarray(LOAD_BINS), -np.asarray(remaining), side="right")


def default_config(batch_size: int) -> AgentConfig:
    """The agent options aif-pymdp runs with (Dirichlet scales, precisions, stochastic actions)."""
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


@eqx.filter_jit
def decision_step(agent, obs, prior, qs_prev, action_prev, keys, lr):
    """Perceive (infer states), learn (Dirichlet A/B), plan (EFE), act, and predict the next prior.

    ``obs``: list of (B,) int observations; ``prior``/``qs_prev``: lists of (B, n_f);
    ``action_prev``: (B, n_factors) flat pymdp action of the last step, -1 where there is none;
    ``keys``: (B, 2) PRNG keys; ``lr``: learning-rate scalar (0 = frozen, no recompile).
    Returns the updated agent and a dict of outputs.
    """
    # Surprise of the observed outcome under the prior predictive (prediction error).
    predict = partial(control.compute_expected_obs, A_dependencies=agent.A_dependencies)
    qo_prior = jax.vmap(predict)(prior, agent.A)
    qs, info = agent.infer_states(obs, prior, return_info=True)
    if agent.learn_A or agent.learn_B:
        beliefs_B = [jnp.stack([p, q[:, -1]], axis=1) for p, q in zip(qs_prev, qs, strict=True)]
        agent = agent.infer_parameters(
            qs,
            [o[:, None] for o in obs],
            action_prev[:, None, :],
            beliefs_B=beliefs_B,
            lr_pA=lr,
            lr_pB=lr,
        )
    q_pi, neg_efe = agent.infer_policies(qs)
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
    latest = jtu.tree_map(lambda x: x[:, -1], qs)
    _, utility = jax.vmap(utility_only)(
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
    split = jax.vmap(jr.split)(keys)
    action = agent.sample_action(q_pi, rng_key=split[:, 0])
    prior_next = agent.update_empirical_prior(action, qs)
    out = {
        "qs": latest,
        "q_pi": q_pi,
        "neg_efe": neg_efe,
        "utility": utility,
        "vfe": info["vfe"].reshape(agent.batch_size, -1)[:, -1],
        "qo_prior": qo_prior,
        "action": action,
        "multi_action": agent.decode_multi_actions(action),
        "prior_next": prior_next,
        "keys": split[:, 1],
    }
    return agent, out


class AifPymdpAgent(declared.AifPymdp, Agent):
    """Active inference over a discrete offloading POMDP (``models/offloading_pomdp.py``), on pymdp.

    Each step it bins the observation, infers the hidden loads, learns A and B online, scores the
    10 multi-actions (server x allocation profile) by expected free energy and takes one.

    Observation binning (modalities of the model):

    - ``report_<server>``: reported compute left r: free if r > 0.6, busy if 0.2 < r <= 0.6,
      full if r <= 0.2 (bandwidth and memory reports are not used: the nominal allocation
      needs little of either);
    - ``outcome`` of the last task (from ``Transition.info``): fast if completed within t_max / 3,
      slow if completed later, failed otherwise; "none" before the first task of an episode;
    - ``accuracy`` tier of the last task: cloud-tier / edge-tier by where it completed, "none"
      if it failed;
    - ``distance``: near if the nearest edge is within 0.5 km;
    - ``task_size``: long if the prompt has at least 256 tokens.

    Actions: the ``server`` control is the target; the ``allocation`` control picks the profile
    ``whole`` (the rules' nominal allocation: a whole GPU, the least bandwidth, the least memory
    holding the KV cache) or ``half`` (the same with half a GPU).
    """

    learns = True

    def __init__(
        self,
        context: EnvContext,
        *,
        seeds: Sequence[int],
        config: AgentConfig | None = None,
        params: OffloadingParams | None = None,
        record: bool = True,
    ) -> None:
        super().__init__(context, seeds=seeds)
        batch = context.batch_size
        self.spec = model_for_scenario(context.scenario, params)
        self.config = config or default_config(batch)
        if self.config.batch_size != batch:
            raise ValueError(
                f"config.batch_size: must equal the batch ({batch}), got {self.config.batch_size}"
            )
        self.pymdp = make_agent(self.spec, self.config)
        self.forecaster = Forecaster(context)
        self.is_cloud = np.array([s.kind == "cloud" for s in context.scenario.servers])
        shares = np.asarray(context.scenario.actions.compute_shares)
        self._half_compute = int(np.abs(shares - 0.5).argmin())
        self._t_max = float(context.scenario.episode.t_max_s)
        self.keys = jnp.stack([jr.PRNGKey(s) for s in self.seeds])
        self.factors = list(self.spec.factors)
        self.modalities = list(self.spec.modalities)
        self.record = record
        self._lr = jnp.float32(1.0)
        self._log: dict[str, list[np.ndarray]] = {}
        self._episode = -1
        self._steps_in_episode = 0
        self.begin_episode()

    # ---- protocol ------------------------------------------------------------------------

    def begin_episode(self) -> None:
        batch = self.context.batch_size
        if self._steps_in_episode > 0 or self._episode < 0:
            self._episode += 1
        self._steps_in_episode = 0
        self.prior = list(self.pymdp.D)
        self.qs_prev = list(self.pymdp.D)
        self.action_prev = -jnp.ones((batch, len(self.factors)), dtype=jnp.int32)
        self.last_outcome = np.zeros(batch, dtype=np.int64)
        self.last_server = np.full(batch, -1, dtype=np.int64)
        self.last_accuracy = np.zeros(batch, dtype=np.int64)
        self._episode_vfe: list[np.ndarray] = []
        self._episode_surprise: list[np.ndarray] = []

    def discretise(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        """Discrete observation of every modality, (B,) ints by modality name."""
        layout = self.context.layout
        servers = [s.name for s in self.context.scenario.servers]
        levels = load_level(layout.get(observation, "remaining_compute"))
        obs = {f"report_{s}": levels[:, j] for j, s in enumerate(servers)}
        distance = layout.get(observation, "distance_km")
        edges = distance[:, ~self.is_cloud] if (~self.is_cloud).any() else distance
        obs["distance"] = (edges.min(axis=1) >= NEAR_KM).astype(np.int64)
        prompt = 1000 * layout.get(observation, "prompt_ktokens")
        obs["task_size"] = (np.rint(prompt) >= LONG_PROMPT_TOKENS).astype(np.int64)
        for j, s in enumerate(servers):
            here = self.last_server == j
            obs[f"outcome_{s}"] = np.where(here, self.last_outcome, 0)
        obs["accuracy"] = self.last_accuracy
        return obs

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        obs = self.discretise(observation)
        self._steps_in_episode += 1
        obs_list = [jnp.asarray(obs[m], dtype=jnp.int32) for m in self.modalities]
        self.pymdp, out = decision_step(
            self.pymdp, obs_list, self.prior, self.qs_prev, self.action_prev, self.keys, self._lr
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
        server, allocation = multi[:, 0], multi[:, 1]
        action = self.forecaster.nominal_allocation(observation, server)
        action[allocation == 1, 1] = self._half_compute
        if self.record:
            self._append("episode", np.full(len(server), self._episode))
            for f, q in zip(self.factors, out["qs"], strict=True):
                self._append(f"q_{f}", np.asarray(q))
            for key in ("q_pi", "neg_efe", "utility"):
                self._append(key, np.asarray(out[key]))
            self._append("vfe", vfe)
            self._append("surprise", surprise)
            self._append("action", action)
            for m in self.modalities:
                self._append(f"obs_{m}", obs[m])
            # The truth arrives with the transition (observe); NaN if the runner sends none.
            servers = len(self.context.scenario.servers)
            self._append("true_load", np.full((len(server), 3, servers), np.nan))
        return action

    def observe(self, transition: Transition) -> None:
        info = transition.info
        completed = np.asarray(info["completed"]).astype(bool)
        fast = np.asarray(info["latency_s"]) <= self._t_max / 3
        self.last_outcome = np.where(
            completed,
            np.where(fast, OUTCOME_LEVELS.index("fast"), OUTCOME_LEVELS.index("slow")),
            OUTCOME_LEVELS.index("failed"),
        )
        self.last_server = np.asarray(transition.action)[:, 0].astype(np.int64)
        cloud = self.is_cloud[self.last_server]
        tier = np.where(
            cloud, ACCURACY_LEVELS.index("cloud-tier"), ACCURACY_LEVELS.index("edge-tier")
        )
        self.last_accuracy = np.where(completed, tier, ACCURACY_LEVELS.index("none"))
        if self.record and "true_load" in info and self._log.get("true_load"):
            self._log["true_load"][-1] = np.asarray(info["true_load"], dtype=float)

    def _outcome_surprise(self, qo_prior, obs: dict[str, np.ndarray]) -> np.ndarray:
        """-log p(observed outcome of the last task) under the prior predictive, summed over the
        outcome modalities (0 when there is no last task)."""
        total = np.zeros(self.context.batch_size)
        rows = np.arange(self.context.batch_size)
        for m, qo in zip(self.modalities, qo_prior, strict=True):
            if m.startswith("outcome_"):
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

    def belief_data(self):
        """Per-step beliefs, policy posterior, EFE terms and observations, with the true load,
        and draws of the learned load dynamics.

        ArviZ InferenceData, dims ``seed, episode, step`` (+ ``server``, ``level``, ``policy``,
        factor levels). ``filtering`` (the package's own group: one distribution per step, no
        draws) holds q(s) of every factor (``q_load`` for the servers), q(pi), the negative EFE,
        its utility and information-gain parts, the VFE, the outcome surprise and the action;
        ``observed_data`` the discrete observations; ``constant_data`` the simulator's
        ``true_load`` (used fractions) and its level under the agent's binning (NaN / -1 where no
        transition was observed, e.g. frozen evaluation episodes, which the runner plays without
        ``observe``). Steps past the end of a shorter episode are NaN (-1 for integers).
        ``posterior`` holds exact draws (``chain, draw``) of every server's load-transition matrix
        from its Dirichlet posterior after the last step (:meth:`transition_draws`).
        """
        if not self._log.get("vfe"):
            return None
        import arviz as az

        episode_of = np.asarray(self._log["episode"])[:, 0]
        episodes, position = np.unique(episode_of, return_inverse=True)
        step_in = np.zeros_like(episode_of)
        for e in range(episodes.size):
            step_in[position == e] = np.arange((position == e).sum())
        steps = int(step_in.max()) + 1

        def stacked(key: str) -> np.ndarray:  # (seed, episode, step, ...)
            flat = np.stack(self._log[key], axis=1)
            fill = np.nan if np.issubdtype(flat.dtype, np.floating) else -1
            out = np.full(
                (flat.shape[0], episodes.size, steps, *flat.shape[2:]), fill, dtype=flat.dtype
            )
            out[:, position, step_in] = flat
            return out

        servers = [s.name for s in self.context.scenario.servers]
        coords = {
            "seed": self.seeds,
            "episode": episodes,
            "step": np.arange(steps),
            "server": servers,
            "level": list(LOAD_LEVELS),
            "resource": ["compute", "bandwidth", "memory"],
            "policy": self._policy_labels(),
        }
        t = ("seed", "episode", "step")
        posterior = {
            "q_load": (
                (*t, "server", "level"),
                np.stack([stacked(f"q_load_{s}") for s in servers], axis=3),
            )
        }
        for f in self.factors:
            if not f.startswith("load_"):
                posterior[f"q_{f}"] = ((*t, f), stacked(f"q_{f}"))
                coords[f] = list(self.spec.levels(f))
        stats = {k: ((*t, "policy"), stacked(k)) for k in ("q_pi", "neg_efe", "utility")}
        stats["info_gain"] = ((*t, "policy"), stacked("neg_efe") - stacked("utility"))
        stats["vfe"] = (t, stacked("vfe"))
        stats["surprise"] = (t, stacked("surprise"))
        stats["action"] = ((*t, "action_entry"), stacked("action"))
        observed = {m: (t, stacked(f"obs_{m}")) for m in self.modalities}
        groups = {"filtering": posterior | stats, "observed_data": observed}
        if len(self._log.get("true_load", [])) == len(episode_of):  # always, when recording
            true = stacked("true_load")  # (seed, episode, step, resource, server) used fractions
            level = np.where(np.isnan(true[..., 0, :]), -1, load_level(1 - true[..., 0, :]))
            groups["constant_data"] = {
                "true_load": ((*t, "resource", "server"), true),
                "true_load_level": ((*t, "server"), level),
            }
        datasets = {}
        for name, variables in groups.items():
            ds = xr.Dataset(variables)
            datasets[name] = ds.assign_coords({k: v for k, v in coords.items() if k in ds.dims})
            datasets[name].attrs.update(
                {"agent": self.name, "model": self.spec.name, "config": repr(self.config.as_dict())}
            )
        for m in self.modalities:
            datasets["observed_data"][m].attrs["levels"] = ", ".join(self.spec.levels(m))
        datasets["posterior"] = self.transition_draws()
        return az.InferenceData(**datasets, warn_on_custom_groups=False)

    def transition_draws(self, chains: int = 2, draws: int = 100) -> xr.Dataset:
        """Exact draws of every server's load-transition matrix from its Dirichlet posterior.

        ``load_transition`` (chain, draw, seed, server, level_next, level, target, allocation):
        p(next load level | load level, the targeted server, the allocation profile) of
        ``server``, drawn from ``Dirichlet(pB)`` (the learned counts) independently per column;
        ``chains`` x ``draws`` independent draws (R-hat near 1 and ESS near their number by
        construction). Seeded by the agent's seeds.
        """
        rng = np.random.default_rng([*map(int, self.seeds), 7_919])
        servers = [s.name for s in self.context.scenario.servers]
        shape = self.spec.B[f"load_{servers[0]}"].shape  # (level_next, level, target, allocation)
        counts = np.stack(
            [
                np.asarray(self.pymdp.pB[self.factors.index(f"load_{s}")]).reshape(-1, *shape)
                for s in servers
            ],
            axis=1,
        ).astype(float)  # pymdp keeps the control dims flattened (C order)
        gamma = rng.standard_gamma(np.broadcast_to(counts, (chains, draws, *counts.shape)))
        values = gamma / gamma.sum(axis=4, keepdims=True)
        dims = ("chain", "draw", "seed", "server", "level_next", "level", "target", "allocation")
        control_dims = self.spec.B_dims(f"load_{servers[0]}")[2:]
        coords = {
            "seed": self.seeds,
            "server": servers,
            "level_next": list(LOAD_LEVELS),
            "level": list(LOAD_LEVELS),
            "target": list(self.spec.levels(control_dims[0])),
            "allocation": list(self.spec.levels(control_dims[1])),
        }
        ds = xr.Dataset({"load_transition": (dims, values.astype(np.float32))}, coords=coords)
        ds.attrs.update(
            {
                "inference_method": "conjugate_dirichlet",
                "draws_are": "exact",
                "agent": self.name,
                "model": self.spec.name,
            }
        )
        return ds

    def _policy_labels(self) -> list[str]:
        controls = list(self.spec.controls)
        labels = []
        for row in np.asarray(self.pymdp.policies.policy_arr)[:, 0]:
            multi = np.asarray(self.pymdp.decode_multi_actions(jnp.asarray(row)[None]))[0]
            labels.append(
                "/".join(self.spec.levels(c)[int(i)] for c, i in zip(controls, multi, strict=True))
            )
        return labels
