"""The offloading POMDP's shapes and normalisation, and pymdp's numbers checked by hand."""

from __future__ import annotations

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from aif_offload.models.offloading_pomdp import (
    LOAD_LEVELS,
    OUTCOME_LEVELS,
    model_for_scenario,
    offloading_model,
)

from aif_offload.agents.aif_pymdp import decision_step
from aif_offload.pomdp import AgentConfig, build, make_agent, to_xarray
from aif_offload.scenarios import load_scenario

ONE = jnp.float32(1.0)  # learning rate of the jitted step


@pytest.fixture(scope="module")
def paper_model():
    return model_for_scenario(load_scenario("paper"))


def test_offloading_model_is_normalised_with_the_declared_shapes(paper_model):
    spec = paper_model
    servers = ["cloud", "edge-1", "edge-2", "edge-3", "edge-4"]
    assert list(spec.controls) == ["server", "allocation"]
    assert spec.levels("server") == tuple(servers)
    assert spec.levels("route") == ("none", *servers)
    assert spec.A_shape("outcome_cloud") == (len(OUTCOME_LEVELS), 6, 2, len(LOAD_LEVELS))
    assert spec.B_shape("load_edge-1") == (3, 3, 5, 2)
    arrays = build(spec)  # validates
    for a in arrays.A:
        np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-5)
    for b in arrays.B:
        np.testing.assert_allclose(b.sum(axis=1), 1.0, atol=1e-5)
    for d in arrays.D:
        np.testing.assert_allclose(d.sum(axis=-1), 1.0, atol=1e-6)
    ds = to_xarray(spec)
    assert ds["A_outcome_edge-2"].dims == (
        "outcome_edge-2",
        "route",
        "allocation_used",
        "load_edge-2",
    )
    # A task routed elsewhere is never seen in this server's outcome modality.
    assert ds["A_outcome_edge-2"].sel({"route": "cloud", "outcome_edge-2": "none"}).min() == 1.0
    # Sending a task to a server can only raise its load, sending it elsewhere only lowers it.
    up = ds["B_load_edge-1"].sel(server="edge-1", allocation="whole")
    assert up.sel({"load_edge-1": "free", "load_edge-1_next": "busy"}) > 0.2
    down = ds["B_load_edge-1"].sel(server="cloud", allocation="whole")
    assert down.sel({"load_edge-1": "free", "load_edge-1_next": "busy"}) < 0.01


def test_preferences_follow_the_rewardless_guidance(paper_model):
    c = {
        m: dict(zip(paper_model.levels(m), paper_model.C[m], strict=True))
        for m in ("outcome_cloud", "accuracy")
    }
    out, acc = c["outcome_cloud"], c["accuracy"]
    assert out["failed"] < out["none"] == 0 < out["slow"] < out["fast"]
    # completion first, then latency, then accuracy
    assert -out["failed"] > out["fast"] - out["slow"] > acc["edge-tier"] - acc["cloud-tier"] > 0


def test_the_policy_space_is_server_times_allocation(paper_model):
    agent = make_agent(paper_model, AgentConfig())
    assert agent.policies.num_policies == 10


def test_model_needs_one_flag_per_server():
    with pytest.raises(ValueError, match="is_cloud"):
        offloading_model(["cloud", "edge"], [True])


def _hand_efe(spec, qs):
    """Negative EFE (utility + state information gain) of each one-step policy, in NumPy."""
    A, B, C = spec.A["seen"], spec.B["light"], spec.C["seen"]
    h_a = -(A * np.log(A)).sum(axis=0)
    utility, info = [], []
    for u in range(B.shape[-1]):
        qs_next = B[:, :, u] @ qs
        qo = A @ qs_next
        utility.append(qo @ C)
        info.append(-(qo * np.log(qo)).sum() - h_a @ qs_next)
    return np.array(utility), np.array(info)


def test_expected_free_energy_matches_a_hand_computation(tiny):
    agent = make_agent(tiny, AgentConfig(gamma=1.0, action_selection="deterministic"))
    observed = 0  # "red"
    _, out = decision_step(
        agent,
        [jnp.array([observed])],
        agent.D,
        agent.D,
        -jnp.ones((1, 1), jnp.int32),
        jr.PRNGKey(0)[None],
        ONE,
    )
    prior = tiny.D["light"]
    qs = prior * tiny.A["seen"][observed]
    qs /= qs.sum()
    np.testing.assert_allclose(np.asarray(out["qs"][0][0]), qs, rtol=1e-5)
    utility, info = _hand_efe(tiny, qs)
    np.testing.assert_allclose(np.asarray(out["utility"][0]), utility, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(out["neg_efe"][0]), utility + info, rtol=1e-4)
    q_pi = np.exp(utility + info) / np.exp(utility + info).sum()
    np.testing.assert_allclose(np.asarray(out["q_pi"][0]), q_pi, rtol=1e-4)
    assert int(out["multi_action"][0, 0]) == int(np.argmax(q_pi))


def test_dirichlet_counts_grow_exactly_by_the_observed_transition(tiny):
    config = AgentConfig(
        learn_A=True, learn_B=True, pA_scale=10.0, pB_scale=5.0, action_selection="deterministic"
    )
    agent = make_agent(tiny, config)
    keys = jr.PRNGKey(0)[None]
    none = -jnp.ones((1, 1), jnp.int32)
    pA0, pB0 = np.asarray(agent.pA[0][0]), np.asarray(agent.pB[0][0])
    # First step: no previous action, so B keeps its prior; A counts the first observation.
    agent1, out1 = decision_step(agent, [jnp.array([2])], agent.D, agent.D, none, keys, ONE)
    qs1 = np.asarray(out1["qs"][0][0])
    np.testing.assert_allclose(np.asarray(agent1.pB[0][0]), pB0, rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(agent1.pA[0][0]) - pA0, np.outer(np.eye(3)[2], qs1), atol=1e-5
    )
    # Second step after "toggle": pB[:, :, toggle] grows by q(s_t) x q(s_t-1), the rest is kept.
    toggle = jnp.array([[1]], jnp.int32)
    agent2, out2 = decision_step(
        agent1, [jnp.array([1])], out1["prior_next"], out1["qs"], toggle, keys, ONE
    )
    qs2 = np.asarray(out2["qs"][0][0])
    growth = np.asarray(agent2.pB[0][0]) - pB0
    np.testing.assert_allclose(growth[:, :, 1], np.outer(qs2, qs1), atol=1e-5)
    np.testing.assert_allclose(growth[:, :, 0], 0.0, atol=1e-6)
    assert growth.sum() == pytest.approx(1.0, abs=1e-5)
    # and B is the normalised posterior counts
    pb = np.asarray(agent2.pB[0][0])
    np.testing.assert_allclose(np.asarray(agent2.B[0][0]), pb / pb.sum(axis=0), rtol=1e-5)
    # Frozen (learning rate 0): the same compiled step leaves every count as it was.
    agent3, _ = decision_step(
        agent2, [jnp.array([0])], out2["prior_next"], out2["qs"], toggle, keys, jnp.float32(0.0)
    )
    np.testing.assert_array_equal(np.asarray(agent3.pB[0]), np.asarray(agent2.pB[0]))
    np.testing.assert_array_equal(np.asarray(agent3.pA[0]), np.asarray(agent2.pA[0]))
