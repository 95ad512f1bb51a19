"""The engine's one-step Dirichlet update (``aif_offload/pomdp/learning.py``) against pymdp's own
``infer_parameters``, on models whose modalities and transitions read several factors and
several controls: the update must hold for any user model, not only for the shipped one (checked
there in test_offloading_model.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from aif_offload.pomdp import AgentConfig, Control, Factor, Modality, ModelSpec, make_agent
from aif_offload.pomdp.learning import dirichlet_step
from tests.agents.user_models.tiny_pomdp import tiny_spec


def assert_equals_pymdps_update(agent, qs, obs, qs_prev, action, lr: float = 0.7):
    """``dirichlet_step`` against pymdp's ``infer_parameters`` on one step; returns ours."""
    reference = agent.infer_parameters(
        [q[:, None] for q in qs],
        [o[:, None] for o in obs],
        action[:, None, :],
        beliefs_B=[jnp.stack([p, q], axis=1) for p, q in zip(qs_prev, qs, strict=True)],
        lr_pA=lr,
        lr_pB=lr,
    )
    mine = dirichlet_step(agent, qs, obs, qs_prev, action, jnp.float32(lr))
    for name in ("pA", "A", "pB", "B"):
        for ours, theirs in zip(getattr(mine, name), getattr(reference, name), strict=True):
            np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-6)
    return mine


def tangled_spec() -> ModelSpec:
    """Random numbers on a layout with every kind of dependency: a modality of two factors, a
    factor whose transition reads another factor, one with two controls, one with none."""
    spec = ModelSpec(
        "tangled",
        factors=[
            Factor("x", ("a", "b"), controls=("u", "v")),
            Factor("y", ("p", "q", "r"), depends_on=("x",), controls=("u",)),
            Factor("z", ("on", "off")),
        ],
        modalities=[
            Modality("o_xy", ("1", "2", "3", "4"), depends_on=("x", "y")),
            Modality("o_z", ("1", "2"), depends_on=("z",)),
            Modality("o_yz", ("1", "2", "3"), depends_on=("y", "z")),
        ],
        controls=[Control("u", ("0", "1")), Control("v", ("0", "1", "2"))],
    )
    rng = np.random.default_rng(3)
    for table in (spec.A, spec.B):
        for name in table:
            shape = table[name].shape
            table[name][:] = np.moveaxis(rng.dirichlet(np.ones(shape[0]), shape[1:]), -1, 0)
    for f in spec.factors:
        spec.set_initial(f, rng.dirichlet(np.ones(len(spec.levels(f)))))
    return spec


@pytest.mark.parametrize("make_spec", [tangled_spec, tiny_spec], ids=["tangled", "user-tiny"])
def test_one_step_update_equals_pymdps_infer_parameters(make_spec):
    batch = 3
    spec = make_spec()
    config = AgentConfig(batch_size=batch, learn_A=True, learn_B=True, pA_scale=5.0, pB_scale=3.0)
    agent = make_agent(spec, config)
    k = jr.PRNGKey(0)
    qs = [jax.nn.softmax(jr.normal(jr.fold_in(k, i), d.shape)) for i, d in enumerate(agent.D)]
    qs_prev = [
        jax.nn.softmax(jr.normal(jr.fold_in(k, 50 + i), d.shape)) for i, d in enumerate(agent.D)
    ]
    obs = [
        jr.randint(jr.fold_in(k, 100 + i), (batch,), 0, a.shape[1]) for i, a in enumerate(agent.A)
    ]
    n_factors = len(agent.D)
    # pymdp's per-factor action: a random legal one per row; row 1 has none yet (-1).
    action = np.stack(
        [
            jr.randint(jr.fold_in(k, 200 + f), (batch,), 0, n)
            for f, n in enumerate(agent.num_controls)
        ],
        axis=1,
    )
    action[1] = -1
    action = jnp.asarray(action, jnp.int32)
    assert action.shape == (batch, n_factors)
    mine = assert_equals_pymdps_update(agent, qs, obs, qs_prev, action)
    # Learning happened (the check above is not vacuous) except where there is no last action.
    assert any(not np.allclose(m, p) for m, p in zip(mine.pB, agent.pB, strict=True))
    for ours, prior in zip(mine.pB, agent.pB, strict=True):
        np.testing.assert_array_equal(np.asarray(ours[1]), np.asarray(prior[1]))
