"""``@prior=nominal|vague`` of the active-inference agents (continuous and aif-pymdp)."""

from __future__ import annotations

import numpy as np
import pytest

from aif_offload.agents import Transition, agent_class, resolve_agents
from aif_offload.agents.aif_pyro import VAGUE_PRIOR, AifPyroConfig
from aif_offload.agents.priors import PRIORS, Prior
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
from aif_offload.experiment.spec import learning_agents
from aif_offload.planning.cem import CemConfig
from aif_offload.scenarios import load_scenario

from .test_aif_pyro import _context

SMALL = AifPyroConfig(
    planner=CemConfig(iterations=2, candidates=16, top_k=4, horizon=2),
    num_models=3,
    svi_steps=3,
    svi_jit=False,
)


def test_an_unknown_prior_is_a_one_line_error_naming_the_allowed():
    with pytest.raises(ValueError, match=r"prior: unknown prior 'flat', allowed: nominal, vague"):
        resolve_agents(["aif-pyro@prior=flat"])
    assert Prior("vague").vague and not Prior("nominal").vague


def test_vague_widens_the_speed_and_noise_priors_and_nominal_keeps_them():
    env = CloudEdgeLLMVectorEnv(2, load_scenario("paper-hidden"))
    env.reset(seed=[0, 1])
    vague = agent_class("aif-pyro@prior=vague")(_context(env), seeds=[0, 1], config=SMALL)
    nominal = agent_class("aif-pyro@prior=nominal")(_context(env), seeds=[0, 1], config=SMALL)
    for key, value in VAGUE_PRIOR.items():
        assert getattr(vague.config, key) == value
        assert getattr(nominal.config, key) == getattr(SMALL, key) < value
    # The first world models are drawn from the prior: wider speeds under vague (same streams).
    assert np.std(vague.world.posterior()["log_speed"]) > 2 * np.std(
        nominal.world.posterior()["log_speed"]
    )


@pytest.mark.parametrize("prior", ["nominal", "vague"])
def test_the_ensemble_learns_a_residual_or_the_whole_compute_time(prior):
    env = CloudEdgeLLMVectorEnv(2, load_scenario("paper"))
    observation, _ = env.reset(seed=[0, 1])
    agent = agent_class(f"aif-ensemble@prior={prior}")(_context(env), seeds=[0, 1])
    agent.begin_episode()
    for _ in range(40):
        action = agent.act(observation)
        pending_before = dict(agent._pending)
        next_observation, reward, terminated, truncated, info = env.step(action)
        agent.observe(
            Transition(observation, action, reward, next_observation, terminated, truncated, info)
        )
        observation = next_observation
        compute_s = np.asarray(info["compute_s"], float)
        ok = np.isfinite(compute_s) & (compute_s > 0)
        if ok.any():
            target = agent._step_targets[-1][:, 0]
            base = pending_before["log_nominal"] if prior == "nominal" else 0.0
            expected = np.log(np.where(ok, compute_s, 1.0)) - base
            np.testing.assert_allclose(target[ok], np.broadcast_to(expected, ok.shape)[ok])
            return
    pytest.fail("no task completed in 40 steps")


# --- aif-pymdp: the discrete engine's Dirichlet counts ---------------------------------------


def _pymdp_pair(steps: int = 0):
    """aif-pymdp under both priors on the same seeds, driven by the same ``steps`` of data (the
    nominal agent's actions, so both see the same observations)."""
    env = CloudEdgeLLMVectorEnv(2, load_scenario("paper-hidden"))
    observation, _ = env.reset(seed=[0, 1])
    agents = {p: agent_class(f"aif-pymdp@prior={p}")(_context(env), seeds=[0, 1]) for p in PRIORS}
    before = {p: [np.asarray(x).copy() for x in a.pymdp.pA + a.pymdp.pB] for p, a in agents.items()}
    for _ in range(steps):
        action = agents["nominal"].act(observation)
        agents["vague"].act(observation)
        next_observation, reward, terminated, truncated, info = env.step(action)
        t = Transition(observation, action, reward, next_observation, terminated, truncated, info)
        for a in agents.values():
            a.observe(t)
        observation = next_observation
    return agents, before


def test_pymdp_vague_counts_are_fewer_and_its_arrays_still_distributions():
    agents, _ = _pymdp_pair()
    nominal, vague = agents["nominal"].pymdp, agents["vague"].pymdp
    names = agents["vague"].modalities + agents["vague"].factors
    ratio = {}
    for name, pn, pv, a in zip(
        names, nominal.pA + nominal.pB, vague.pA + vague.pB, vague.A + vague.B, strict=True
    ):
        pn, pv, a = np.asarray(pn), np.asarray(pv), np.asarray(a)
        ratio[name] = pv.sum() / pn.sum()
        np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-5)  # columns normalised
        np.testing.assert_allclose(a, pv / pv.sum(axis=1, keepdims=True), rtol=1e-5)  # the mean
    factors = agents["vague"].factors
    for s in agents["vague"].context.scenario.servers:  # the release dynamics: flat, no speeds
        b = np.asarray(vague.B[factors.index(f"free_{s.name}")])
        np.testing.assert_allclose(b, 1.0 / b.shape[1], rtol=1e-5)
    for s in agents["vague"].context.scenario.servers:
        n = s.name
        assert max(ratio[f"report_{n}"], ratio[f"ledger_{n}"], ratio[f"free_{n}"]) < 0.1
        assert ratio[f"served_{n}"] < 0.9  # the columns of a task sent there: flat
        assert ratio[f"outcome_{n}"] == pytest.approx(1.0)  # bookkeeping: nominal


def test_pymdp_nominal_is_the_default_agent():
    env = CloudEdgeLLMVectorEnv(2, load_scenario("paper-hidden"))
    observation, _ = env.reset(seed=[3, 4])
    default = agent_class("aif-pymdp")(_context(env), seeds=[3, 4])
    nominal = agent_class("aif-pymdp@prior=nominal")(_context(env), seeds=[3, 4])
    for _ in range(15):
        action = default.act(observation)
        np.testing.assert_array_equal(nominal.act(observation), action)
        next_observation, reward, terminated, truncated, info = env.step(action)
        t = Transition(observation, action, reward, next_observation, terminated, truncated, info)
        default.observe(t)
        nominal.observe(t)
        observation = next_observation
    for x, y in zip(default.pymdp.pB, nominal.pymdp.pB, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_pymdp_vague_round_trips_and_unknown_prior_is_refused():
    (info,) = resolve_agents(["aif-pymdp@prior=vague"])
    assert info.name == "aif-pymdp@prior=vague"
    cls = agent_class(info.name)
    assert cls.prior.vague and not agent_class("aif-pymdp").prior.vague
    assert {"aif-pymdp@prior=nominal", "aif-pymdp@prior=vague"} <= set(learning_agents())
    with pytest.raises(ValueError, match=r"prior: unknown prior 'wide', allowed: nominal, vague"):
        resolve_agents(["aif-pymdp@prior=wide"])


def test_pymdp_learning_moves_vague_arrays_more_on_the_same_data():
    agents, before = _pymdp_pair(steps=25)
    moved = {}
    for p, a in agents.items():
        start = before[p]
        means = [np.asarray(x) for x in a.pymdp.A + a.pymdp.B]
        starts = [s / s.sum(axis=1, keepdims=True) for s in start]
        moved[p] = sum(np.abs(m - s).sum() for m, s in zip(means, starts, strict=True))
        # the same data under both priors: one unit of count mass per A array, row and step
        added = sum((np.asarray(x) - s).sum() for x, s in zip(a.pymdp.pA, start, strict=False))
        np.testing.assert_allclose(added, 25 * 2 * len(a.modalities), rtol=1e-3)
    assert moved["vague"] > 3 * moved["nominal"] > 0
