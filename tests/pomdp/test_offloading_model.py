"""The offloading POMDP's shapes and normalisation, and pymdp's numbers checked by hand."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from aif_offload.models.offloading_pomdp import (
    OUTCOME_LEVELS,
    ServerFacts,
    model_for_scenario,
    offloading_model,
    release_transition,
    report_likelihood,
    server_facts,
)
from scipy import stats

from aif_offload.agents.aif_pymdp import agent_config, decision_step
from aif_offload.pomdp import AgentConfig, build, make_agent, to_xarray
from aif_offload.scenarios import load_scenario
from tests.pomdp.test_learning import assert_equals_pymdps_update

ONE = jnp.float32(1.0)  # learning rate of the jitted step
SERVERS = ["cloud", "edge-1", "edge-2", "edge-3", "edge-4"]


@pytest.fixture(scope="module")
def paper_model():
    return model_for_scenario(load_scenario("paper"))


def test_offloading_model_is_normalised_with_the_declared_shapes(paper_model):
    spec = paper_model
    assert list(spec.controls) == ["server"]
    assert spec.levels("server") == tuple(SERVERS)
    # Free whole-GPU slots: 2 GPUs at the cloud, 9 at every edge (the nominal view's num_gpus).
    assert spec.levels("free_cloud") == ("0", "1", "2")
    assert spec.levels("free_edge-3") == tuple(str(k) for k in range(10))
    assert spec.B_shape("free_edge-1") == (10, 10, 5)
    assert spec.B_shape("served_cloud") == (len(OUTCOME_LEVELS), len(OUTCOME_LEVELS), 3, 5)
    assert spec.A_shape("outcome_edge-2") == (len(OUTCOME_LEVELS), len(OUTCOME_LEVELS))
    arrays = build(spec)  # validates
    for a in arrays.A:
        np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-5)
    for b in arrays.B:
        np.testing.assert_allclose(b.sum(axis=1), 1.0, atol=1e-5)
    for d in arrays.D:
        np.testing.assert_allclose(d.sum(axis=-1), 1.0, atol=1e-6)
    ds = to_xarray(spec)
    assert ds["B_served_edge-2"].dims == (
        "served_edge-2_next",
        "served_edge-2",
        "free_edge-2",
        "server",
    )
    served = ds["B_served_edge-2"].sel(server="edge-2")
    # A task sent to a server with a free slot completes; with none it fails.
    assert served.sel({"free_edge-2": "3", "served_edge-2_next": "completed"}).min() > 0.95
    assert served.sel({"free_edge-2": "0", "served_edge-2_next": "failed"}).min() > 0.95
    # A task sent elsewhere leaves nothing to see at this server.
    other = ds["B_served_edge-2"].sel(server="cloud")
    assert other.sel({"served_edge-2_next": "none"}).min() > 0.95
    # Sending a task takes one slot; with no task the count can only rise (releases).
    taken = ds["B_free_edge-1"].sel(server="edge-1", **{"free_edge-1": "5"})
    kept = ds["B_free_edge-1"].sel(server="cloud", **{"free_edge-1": "5"})
    assert int(np.argmax(taken.values)) == 4 and int(np.argmax(kept.values)) == 5
    assert float(kept.sel({"free_edge-1_next": ["0", "1", "2", "3", "4"]}).sum()) < 0.01


def test_model_is_built_from_the_nominal_view():
    scenario = load_scenario("paper-hidden")
    nominal = scenario.nominal_view()
    assert server_facts(nominal) == server_facts(nominal.model_copy())
    facts = {f.name: f for f in server_facts(nominal)}
    servers = {s.name: s for s in nominal.servers}
    for name, f in facts.items():
        assert f.units == servers[name].num_gpus  # the largest share is a whole GPU
        assert f.report_noise_units == pytest.approx(
            nominal.observation.report_noise_std * servers[name].num_gpus
        )
    # The hidden section does not reach the model: the view and the view of the view agree.
    spec_a = model_for_scenario(nominal)
    spec_b = model_for_scenario(nominal.nominal_view())
    for f in spec_a.B:
        np.testing.assert_array_equal(spec_a.B[f], spec_b.B[f])


def test_release_dynamics_are_binomial_and_reports_gaussian():
    table = release_transition(9, 0.1, floor=0.0)
    # 4 free, a task takes one: 3 + Binomial(5 busy, 0.1).
    np.testing.assert_allclose(table[3:9, 4, 1], stats.binom.pmf(np.arange(6), 5, 0.1))
    np.testing.assert_allclose(table[4:10, 4, 0], stats.binom.pmf(np.arange(6), 5, 0.1))
    # No slot free: the task fails and takes nothing.
    np.testing.assert_allclose(table[:, 0, 1], table[:, 0, 0])
    report = report_likelihood(2, 0.5, floor=0.0)
    assert report[1, 1] == pytest.approx(
        stats.norm.cdf(0.5, scale=0.5) - stats.norm.cdf(-0.5, scale=0.5)
    )
    assert report[0, 0] == pytest.approx(stats.norm.cdf(0.5, scale=0.5))  # clipped at 0


def test_preferences_follow_the_rewardless_guidance(paper_model):
    cloud = dict(
        zip(paper_model.levels("outcome_cloud"), paper_model.C["outcome_cloud"], strict=True)
    )
    edge = dict(
        zip(paper_model.levels("outcome_edge-1"), paper_model.C["outcome_edge-1"], strict=True)
    )
    assert cloud["failed"] < cloud["none"] == 0 < edge["completed"] < cloud["completed"]
    assert cloud["failed"] == edge["failed"]


def test_the_policy_space_is_the_servers(paper_model):
    agent = make_agent(paper_model, AgentConfig())
    assert agent.policies.num_policies == len(SERVERS)


def test_model_needs_servers_with_slots():
    with pytest.raises(ValueError, match="servers"):
        offloading_model([])
    with pytest.raises(ValueError, match="units"):
        offloading_model([ServerFacts("edge", 0, 10.0, 0.3, 0.1)])


def _random_step(agent, key, batch):
    k = jr.PRNGKey(key)
    qs = [jax.nn.softmax(jr.normal(jr.fold_in(k, i), d.shape)) for i, d in enumerate(agent.D)]
    qs_prev = [
        jax.nn.softmax(jr.normal(jr.fold_in(k, 50 + i), d.shape)) for i, d in enumerate(agent.D)
    ]
    obs = [
        jr.randint(jr.fold_in(k, 100 + i), (batch,), 0, a.shape[1]) for i, a in enumerate(agent.A)
    ]
    return qs, qs_prev, obs


def test_one_step_learning_equals_pymdps_infer_parameters(paper_model):
    batch = 3
    agent = make_agent(paper_model, agent_config(batch))
    qs, qs_prev, obs = _random_step(agent, 0, batch)
    action = jnp.array([[1] * 10, [-1] * 10, [4] * 10], jnp.int32)  # row 1: no previous action
    mine = assert_equals_pymdps_update(agent, qs, obs, qs_prev, action)
    # The row without a previous action learned no transition.
    for ours, prior in zip(mine.pB, agent.pB, strict=True):
        np.testing.assert_array_equal(np.asarray(ours[1]), np.asarray(prior[1]))


def test_one_fixed_point_iteration_is_exact_for_this_model(paper_model):
    batch = 2
    one = make_agent(paper_model, agent_config(batch))
    many = make_agent(paper_model, AgentConfig(**{**agent_config(batch).as_dict(), "num_iter": 16}))
    _, qs_prev, obs = _random_step(one, 1, batch)
    for a, b in zip(one.infer_states(obs, qs_prev), many.infer_states(obs, qs_prev), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    # and it is the closed form: prior x the likelihood of each modality reading the factor
    f = list(paper_model.factors).index("free_edge-1")
    prior = np.asarray(qs_prev[f][0])
    post = prior.copy()
    for m, name in enumerate(paper_model.modalities):
        if paper_model.modalities[name].depends_on == ("free_edge-1",):
            post = post * paper_model.A[name][int(obs[m][0])]
    np.testing.assert_allclose(
        np.asarray(one.infer_states(obs, qs_prev)[f][0, -1]), post / post.sum(), atol=1e-5
    )


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
