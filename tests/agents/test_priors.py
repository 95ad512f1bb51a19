"""``@prior=nominal|vague`` of the continuous active-inference agents."""

from __future__ import annotations

import numpy as np
import pytest

from aif_offload.agents import Transition, agent_class, resolve_agents
from aif_offload.agents.aif_pyro import VAGUE_PRIOR, AifPyroConfig
from aif_offload.agents.priors import Prior
from aif_offload.envs.vector import CloudEdgeLLMVectorEnv
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
