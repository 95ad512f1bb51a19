"""From a named :class:`~aif_offload.pomdp.spec.ModelSpec` to pymdp arrays, xarray, and a pymdp Agent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import xarray as xr

from aif_offload.pomdp.spec import ModelSpec


@dataclass(frozen=True)
class PymdpArrays:
    """Everything pymdp's ``Agent`` needs, in pymdp's index order, each array with a batch axis."""

    A: list[np.ndarray]
    B: list[np.ndarray]
    C: list[np.ndarray]
    D: list[np.ndarray]
    pA: list[np.ndarray] | None
    pB: list[np.ndarray] | None
    A_dependencies: list[list[int]]
    B_dependencies: list[list[int]]
    B_action_dependencies: list[list[int]]
    num_controls: list[int]
    batch_size: int
    factors: tuple[str, ...]
    modalities: tuple[str, ...]
    controls: tuple[str, ...]


def build(
    spec: ModelSpec,
    *,
    batch_size: int = 1,
    pA_scale: float | None = None,
    pB_scale: float | None = None,
    concentrations: Mapping[str, np.ndarray] | None = None,
) -> PymdpArrays:
    """Validate ``spec`` and lay it out for pymdp.

    ``pA_scale`` / ``pB_scale`` give Dirichlet priors ``scale * A`` / ``scale * B``: informative
    priors centred on the declared model (a flat prior would wipe it out); the scale is the number
    of pseudo-observations each column is worth. Entries that are exactly 0 stay 0 under learning.
    ``concentrations`` (by modality or factor name, each of the shape of its A / B) replaces the
    Dirichlet counts of those arrays, whose A / B are then the counts' means (a model's own
    prior, e.g. ``aif-pymdp@prior=vague``); it needs the matching scale (learning on).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    for what, scale in (("pA_scale", pA_scale), ("pB_scale", pB_scale)):
        if scale is not None and not scale > 0:
            raise ValueError(f"{what}: must be > 0, got {scale}")
    if not spec.controls:
        raise ValueError(f"model '{spec.name}': declare at least one control")
    spec.validate()
    factors = tuple(spec.factors)
    modalities = tuple(spec.modalities)
    controls = tuple(spec.controls)

    def batched(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        return np.ascontiguousarray(np.broadcast_to(x, (batch_size, *x.shape)))

    own = dict(concentrations or {})
    unknown = sorted(set(own) - set(modalities) - set(factors))
    if unknown:
        raise ValueError(
            f"concentrations: {unknown} are not modalities or factors of '{spec.name}'"
        )

    def counts(name: str, declared: np.ndarray, scale: float | None) -> np.ndarray | None:
        if name not in own:
            return None if scale is None else scale * batched(declared)
        c = np.asarray(own[name], dtype=float)
        if scale is None or c.shape != np.shape(declared) or not np.all(c > 0):
            raise ValueError(
                f"concentrations['{name}']: needs learning on and positive counts of shape "
                f"{np.shape(declared)}, got shape {c.shape}"
            )
        return batched(c)

    pA = [counts(m, spec.A[m], pA_scale) for m in modalities]
    pB = [counts(f, spec.B[f], pB_scale) for f in factors]
    # An array with its own counts starts at their mean (what learning would make of them).
    A = [
        batched(spec.A[m]) if m not in own else _mean(p)
        for m, p in zip(modalities, pA, strict=True)
    ]
    B = [batched(spec.B[f]) if f not in own else _mean(p) for f, p in zip(factors, pB, strict=True)]
    return PymdpArrays(
        A=A,
        B=B,
        C=[batched(spec.C[m]) for m in modalities],
        D=[batched(spec.D[f]) for f in factors],
        pA=None if pA_scale is None else pA,
        pB=None if pB_scale is None else pB,
        A_dependencies=[
            [factors.index(d) for d in spec.modalities[m].depends_on] for m in modalities
        ],
        B_dependencies=[
            [factors.index(f)] + [factors.index(d) for d in spec.factors[f].depends_on]
            for f in factors
        ],
        B_action_dependencies=[
            [controls.index(c) for c in spec.factors[f].controls] for f in factors
        ],
        num_controls=[len(spec.controls[c].levels) for c in controls],
        batch_size=batch_size,
        factors=factors,
        modalities=modalities,
        controls=controls,
    )


def _mean(counts: np.ndarray) -> np.ndarray:
    """Dirichlet mean over the outcome / next-state axis (axis 1, after the batch)."""
    return (counts / counts.sum(axis=1, keepdims=True)).astype(np.float32)


def to_xarray(spec: ModelSpec) -> xr.Dataset:
    """The model as a Dataset: ``A_<modality>``, ``B_<factor>``, ``C_<modality>``, ``D_<factor>``
    with named dims and level names as coordinates."""
    data: dict[str, xr.DataArray] = {}
    for m in spec.modalities:
        data[f"A_{m}"] = xr.DataArray(spec.A[m], dims=spec.A_dims(m))
        data[f"C_{m}"] = xr.DataArray(spec.C[m], dims=(m,))
    for f in spec.factors:
        data[f"B_{f}"] = xr.DataArray(spec.B[f], dims=spec.B_dims(f))
        data[f"D_{f}"] = xr.DataArray(spec.D[f], dims=(f,))
    coords: dict[str, list[str]] = {}
    for name in [*spec.factors, *spec.modalities, *spec.controls]:
        coords[name] = list(spec.levels(name))
    for f in spec.factors:
        coords[f"{f}_next"] = list(spec.levels(f))
    ds = xr.Dataset(data)
    ds = ds.assign_coords({k: v for k, v in coords.items() if k in ds.dims})
    ds.attrs["model"] = spec.name
    return ds


@dataclass(frozen=True)
class AgentConfig:
    """Options of pymdp's ``Agent`` that this project uses, typed and checked."""

    policy_len: int = 1
    """Planning horizon in steps (policies are every sequence of multi-actions of this length)."""
    inference_algo: Literal["fpi", "ovf"] = "fpi"
    """State inference: fixed-point iteration (``fpi``) or online filtering (``ovf``)."""
    num_iter: int = 16
    """Fixed-point iterations of state inference."""
    learn_A: bool = False
    """Learn the likelihood A online (needs ``pA_scale``)."""
    learn_B: bool = False
    """Learn the transitions B online (needs ``pB_scale``)."""
    pA_scale: float | None = None
    """Dirichlet prior on A: ``pA_scale * A`` pseudo-counts per column."""
    pB_scale: float | None = None
    """Dirichlet prior on B: ``pB_scale * B`` pseudo-counts per column."""
    gamma: float = 16.0
    """Policy precision: softmax(gamma * -EFE)."""
    alpha: float = 16.0
    """Action precision (stochastic action selection)."""
    action_selection: Literal["deterministic", "stochastic"] = "stochastic"
    """Take the most probable action, or sample it with the row's PRNG key."""
    use_utility: bool = True
    """Pragmatic (preference) term of the expected free energy."""
    use_states_info_gain: bool = True
    """Epistemic (state information gain) term of the expected free energy."""
    use_param_info_gain: bool = False
    """Novelty (parameter information gain) term; needs pA / pB."""
    batch_size: int = 1
    """Independent agents run side by side (one per seed)."""

    def __post_init__(self) -> None:
        if self.policy_len < 1:
            raise ValueError(f"policy_len: must be >= 1, got {self.policy_len}")
        if self.inference_algo not in ("fpi", "ovf"):
            raise ValueError(
                f"inference_algo: '{self.inference_algo}' not supported, use fpi or ovf"
            )
        if self.num_iter < 1:
            raise ValueError(f"num_iter: must be >= 1, got {self.num_iter}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")
        if self.learn_A and self.pA_scale is None:
            raise ValueError("learn_A: needs pA_scale (an informative Dirichlet prior)")
        if self.learn_B and self.pB_scale is None:
            raise ValueError("learn_B: needs pB_scale (an informative Dirichlet prior)")
        if self.action_selection not in ("deterministic", "stochastic"):
            raise ValueError(f"action_selection: '{self.action_selection}' unknown")
        for name in ("gamma", "alpha"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def make_agent(
    spec: ModelSpec, config: AgentConfig, concentrations: Mapping[str, np.ndarray] | None = None
):
    """pymdp's ``Agent`` for ``spec`` with the options of ``config`` (factorised controls);
    ``concentrations``: a model's own Dirichlet counts by array name (:func:`build`)."""
    from pymdp.agent import Agent as PymdpAgent  # JAX is imported only when an agent is built

    arrays = build(
        spec,
        batch_size=config.batch_size,
        pA_scale=config.pA_scale,
        pB_scale=config.pB_scale,
        concentrations=concentrations,
    )
    return PymdpAgent(
        A=[np.asarray(a) for a in arrays.A],
        B=[np.asarray(b) for b in arrays.B],
        C=arrays.C,
        D=arrays.D,
        pA=arrays.pA,
        pB=arrays.pB,
        A_dependencies=arrays.A_dependencies,
        B_dependencies=arrays.B_dependencies,
        B_action_dependencies=arrays.B_action_dependencies,
        num_controls=arrays.num_controls,
        policy_len=config.policy_len,
        gamma=config.gamma,
        alpha=config.alpha,
        use_utility=config.use_utility,
        use_states_info_gain=config.use_states_info_gain,
        use_param_info_gain=config.use_param_info_gain,
        action_selection=config.action_selection,
        sampling_mode="full",
        inference_algo=config.inference_algo,
        num_iter=config.num_iter,
        batch_size=config.batch_size,
        learn_A=config.learn_A,
        learn_B=config.learn_B,
    )
