"""One-step Dirichlet learning of A and B, the update pymdp's ``Agent.infer_parameters`` makes
for one new observation, written as a few outer products.

pymdp's general ``infer_parameters`` handles sequences, smoothing and categorical observations;
for one step it costs most of the jitted decision (``docs/benchmarks.md``). The update is the same
(``tests/pomdp/test_learning.py`` checks it against pymdp's):

- ``pA_m += lr * onehot(o_m) (x) q(s_deps(m))``;
- ``pB_f += lr * q(s_f, t) (x) q(s_deps(f), t-1) (x) onehot(a_f, t-1)``, skipped in a row whose
  last action is -1 (none yet);
- A and B are the Dirichlet means (counts normalised over the outcome / next-state axis).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array


def _outer(vectors: list[Array]) -> Array:
    """Batched multidimensional outer product: (B, n1), (B, n2), ... -> (B, n1, n2, ...)."""
    out = vectors[0]
    for v in vectors[1:]:
        out = out[..., None] * v.reshape(v.shape[0], *([1] * (out.ndim - 1)), v.shape[-1])
    return out


def _mean(counts: Array) -> Array:
    return counts / counts.sum(axis=1, keepdims=True)


def dirichlet_step(agent, qs: list[Array], obs: list[Array], qs_prev: list[Array], action_prev, lr):
    """The agent with pA / pB (and A / B) updated by one step, as pymdp's ``infer_parameters``.

    ``qs``: posterior of every factor now, (B, n_f) each; ``obs``: (B,) int observations;
    ``qs_prev``: the posterior one step earlier; ``action_prev``: (B, n_factors) pymdp's
    per-factor action of the last step, -1 where there is none; ``lr``: a scalar.
    """
    A, pA, B, pB = agent.A, agent.pA, agent.B, agent.pB
    if agent.learn_A:
        pA = [
            p + lr * _outer([jax.nn.one_hot(o, p.shape[1])] + [qs[f] for f in deps])
            for p, o, deps in zip(agent.pA, obs, agent.A_dependencies, strict=True)
        ]
        A = [_mean(p) for p in pA]
    if agent.learn_B:
        valid = jnp.all(action_prev >= 0, axis=-1).astype(qs[0].dtype)  # (B,)
        pB = []
        for f, (p, deps) in enumerate(zip(agent.pB, agent.B_dependencies, strict=True)):
            action = jax.nn.one_hot(action_prev[:, f], p.shape[-1]) * valid[:, None]
            pB.append(p + lr * _outer([qs[f]] + [qs_prev[d] for d in deps] + [action]))
        B = [_mean(p) for p in pB]
    import equinox as eqx

    return eqx.tree_at(
        lambda a: (a.A, a.pA, a.B, a.pB), agent, (A, pA, B, pB), is_leaf=lambda x: x is None
    )
