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
    OUTCOME_LEVELS,
    OffloadingParams,
    model_for_scenario,
    server_facts,
)
from aif_offload.pomdp import AgentConfig, make_agent
from aif_offload.pomdp.learning import dirichlet_step
from aif_offload.sim.llm_latency import full_gpu_compute_time_s
from aif_offload.sim.outcome import FAILURE_REASONS, Outcome

# Failures at admission hold nothing; every other task (completed or not) took its compute.
REFUSED = np.array(
    [
        FAILURE_REASONS.index(r)
        for r in ("out_of_compute", "out_of_bandwidth", "out_of_memory", "memory_below_kv_need")
    ]
)


def free_units(remaining: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Free whole-GPU slots (B, S) of a reported fraction of compute left (B, S), rounded."""
    return np.clip(np.rint(np.asarray(remaining) * units), 0, units).astype(np.int64)


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
        # Every modality of the model reads one factor, so the posterior factorises exactly and
        # one fixed-point iteration is exact (tests/pomdp: equal to 16 iterations).
        num_iter=1,
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
    # The one-step Dirichlet update of pymdp's infer_parameters, without its sequence machinery.
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


class AifPymdpAgent(declared.AifPymdp, Agent):
    """Active inference over a discrete offloading POMDP (``models/offloading_pomdp.py``), on pymdp.

    Each step it turns the observation into the model's modalities, infers every server's free
    compute units, learns A and B online, scores the servers by expected free energy and sends
    the task to one, with the nominal allocation.

    Observation -> modalities (the adapter; the model's timing convention is in its docstring):

    - ``report_<server>``: the reported compute left, in whole-GPU slots (rounded), minus the
      slots the tasks sent since the report took there (the report is ``report_delay_steps``
      old; bandwidth and memory reports are not used: the nominal allocation needs little);
    - ``ledger_<server>``: the slots free by the agent's own ledger: every task it sent that got
      a slot holds it for its nominal compute time (the scenario's latency model with the
      task's prompt and predicted output), on the arrival clock (``gap_s`` where the
      observation has it, else the nominal interarrival time);
    - ``outcome_<server>`` of the last task (from ``Transition.info``): completed or failed in
      the modality of the server it went to, "none" in the others and before the first task.

    Action: the ``server`` control is the target; the allocation is the rules' nominal one (a
    whole GPU, the least bandwidth, the least memory holding the KV cache).
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
        self.units = np.array([f.units for f in server_facts(context.scenario)])
        self._delay = (
            context.scenario.observation.report_delay_steps
            if context.scenario.observation.mode == "partial"
            else 0
        )
        self._step_s = float(context.scenario.episode.interarrival_s)
        self._share = float(max(context.scenario.actions.compute_shares))
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
        # Slots taken by the tasks sent since the report was made, (B, S) each, oldest first.
        self.taken = [np.zeros((batch, self.units.size), dtype=np.int64)] * self._delay
        # The ledger: end time (s, on the arrival clock) and server of every task in flight.
        self.clock = np.zeros(batch)
        self.ledger_end = np.full((batch, int(self.units.sum())), -np.inf)
        self.ledger_server = np.zeros((batch, int(self.units.sum())), dtype=np.int64)
        self._pending: tuple[np.ndarray, np.ndarray] | None = None
        self._episode_vfe: list[np.ndarray] = []
        self._episode_surprise: list[np.ndarray] = []

    def discretise(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        """Discrete observation of every modality, (B,) ints by modality name."""
        layout = self.context.layout
        servers = [s.name for s in self.context.scenario.servers]
        reported = free_units(layout.get(observation, "remaining_compute"), self.units)
        corrected = np.clip(reported - sum(self.taken, np.zeros_like(reported)), 0, self.units)
        busy = self.ledger_end > self.clock[:, None]
        in_flight = np.stack(
            [(busy & (self.ledger_server == j)).sum(1) for j in range(len(servers))], 1
        )
        ledger = np.clip(self.units - in_flight, 0, self.units)
        obs = {}
        for j, s in enumerate(servers):
            obs[f"report_{s}"] = corrected[:, j]
            obs[f"ledger_{s}"] = ledger[:, j]
        for j, s in enumerate(servers):
            obs[f"outcome_{s}"] = np.where(self.last_server == j, self.last_outcome, 0)
        return obs

    def act(self, observation: np.ndarray, truth: Outcome | None = None) -> np.ndarray:
        if self.context.layout.clock:  # the arrival clock of the ledger
            self.clock = self.clock + self.context.layout.get(observation, "gap_s")
        elif self._steps_in_episode > 0:
            self.clock = self.clock + self._step_s
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
        server = multi[:, list(self.spec.controls).index("server")]
        action = self.forecaster.nominal_allocation(observation, server)
        self._pending = (server, self._nominal_compute_s(observation, server))
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
        self.last_outcome = np.where(
            completed, OUTCOME_LEVELS.index("completed"), OUTCOME_LEVELS.index("failed")
        )
        self.last_server = np.asarray(transition.action)[:, 0].astype(np.int64)
        held = ~np.isin(np.asarray(info["failure"]).astype(np.int64), REFUSED)
        took = np.zeros_like(self.taken[1])
        took[np.arange(took.shape[0]), self.last_server] = held
        self.taken = [*self.taken[1:], took] if self.taken else []
        if self._pending is not None:  # the ledger: an admitted task holds its slot
            rows = np.flatnonzero(held)
            slot = np.argmin(self.ledger_end[rows], axis=1)  # a finished (or empty) entry
            self.ledger_end[rows, slot] = self.clock[rows] + self._pending[1][rows]
            self.ledger_server[rows, slot] = self.last_server[rows]
            self._pending = None
        if self.record and "true_load" in info and self._log.get("true_load"):
            self._log["true_load"][-1] = np.asarray(info["true_load"], dtype=float)

    def _nominal_compute_s(self, observation: np.ndarray, server: np.ndarray) -> np.ndarray:
        """Nominal compute time (s) of this task on ``server`` (B,) with the whole-GPU share."""
        layout = self.context.layout
        prompt = np.rint(1000 * layout.get(observation, "prompt_ktokens"))
        output = np.rint(1000 * layout.get(observation, "output_ktokens"))
        out = np.empty(server.shape)
        for j, profile in enumerate(self.forecaster.servers.profiles):
            here = server == j
            if here.any():
                out[here] = full_gpu_compute_time_s(profile, prompt[here], output[here])
        return out / self._share

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
        width = int(self.units.max()) + 1  # q_load pads every server to the largest unit count
        coords = {
            "seed": self.seeds,
            "episode": episodes,
            "step": np.arange(steps),
            "server": servers,
            "level": [str(k) for k in range(width)],
            "resource": ["compute", "bandwidth", "memory"],
            "policy": self._policy_labels(),
        }
        t = ("seed", "episode", "step")

        def padded(f: str) -> np.ndarray:
            q = stacked(f"q_{f}")
            return np.concatenate([q, np.zeros((*q.shape[:-1], width - q.shape[-1]))], axis=-1)

        posterior = {
            "q_load": (
                (*t, "server", "level"),
                np.stack([padded(f"free_{s}") for s in servers], axis=3),
            )
        }
        for f in self.factors:
            if not f.startswith("free_"):
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
            # q(free) at step t is about this task's arrival, as is the truth recorded with it.
            level = np.where(
                np.isnan(true[..., 0, :]),
                -1,
                free_units(1 - np.nan_to_num(true[..., 0, :]), self.units),
            )
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
        """Exact draws of every server's free-unit transition matrix from its Dirichlet posterior.

        ``load_transition_<server>`` (chain, draw, seed, free_<server>_next, free_<server>, target):
        p(next free units | free units, the server this step's task is sent to) of ``server``,
        drawn from
        ``Dirichlet(pB)`` (the learned counts) independently per column; ``chains`` x ``draws``
        independent draws (R-hat near 1 and ESS near their number by construction). Seeded by the
        agent's seeds.
        """
        rng = np.random.default_rng([*map(int, self.seeds), 7_919])
        variables, coords = {}, {"seed": self.seeds, "target": list(self.spec.levels("server"))}
        for s in self.context.scenario.servers:
            factor = f"free_{s.name}"
            counts = np.asarray(self.pymdp.pB[self.factors.index(factor)], dtype=float)
            counts = counts.reshape(-1, *self.spec.B[factor].shape)  # pymdp's trivial control axis
            gamma = rng.standard_gamma(np.broadcast_to(counts, (chains, draws, *counts.shape)))
            values = gamma / gamma.sum(axis=3, keepdims=True)  # (chain, draw, seed, next, ...)
            dims = ("chain", "draw", "seed", f"{factor}_next", factor, "target")
            variables[f"load_transition_{s.name}"] = (dims, values.astype(np.float32))
            coords[factor] = coords[f"{factor}_next"] = list(self.spec.levels(factor))
        ds = xr.Dataset(variables, coords=coords)
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
