"""Named discrete generative models: factors, modalities and controls known by name, not by index.

A :class:`ModelSpec` declares

- hidden-state **factors**, each with named levels, the other factors its transition depends on and
  the controls that act on it;
- observation **modalities**, each with named levels and the factors its likelihood depends on;
- **controls**, each with named levels.

and holds one NumPy array per factor (B, initial state D) and per modality (A, preferences C), laid
out with named axes:

- ``A[m]``: ``(modality levels, *depends_on levels)``;
- ``B[f]``: ``(next levels of f, levels of f, *other depends_on levels, *control levels)``;
- ``C[m]``: ``(modality levels,)``, ``D[f]``: ``(factor levels,)``.

Slices are set by level names (``spec.set_likelihood("outcome", {"failed": 0.9, ...}, route="cloud")``);
``build`` in :mod:`aif_offload.pomdp.build` validates and turns the spec into pymdp's lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Probs = Mapping[str, float] | Sequence[float] | np.ndarray


def _names(what: str, names: Sequence[str]) -> tuple[str, ...]:
    names = tuple(str(n) for n in names)
    if len(names) == 0:
        raise ValueError(f"{what}: needs at least one level")
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: duplicate level names in {list(names)}")
    return names


@dataclass(frozen=True)
class Factor:
    """A hidden-state factor: ``depends_on`` are the *other* factors its transition reads."""

    name: str
    levels: tuple[str, ...]
    depends_on: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Modality:
    """An observation modality whose likelihood depends on the factors ``depends_on``."""

    name: str
    levels: tuple[str, ...]
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class Control:
    """A control factor (one entry of a multi-action) with named levels."""

    name: str
    levels: tuple[str, ...]


class ModelSpec:
    """A discrete POMDP with named factors, modalities and controls, and arrays filled by name."""

    def __init__(
        self,
        name: str,
        *,
        factors: Sequence[Factor],
        modalities: Sequence[Modality],
        controls: Sequence[Control] = (),
    ) -> None:
        self.name = name
        self.factors = {
            f.name: Factor(
                f.name,
                _names(f"factor '{f.name}'", f.levels),
                tuple(f.depends_on),
                tuple(f.controls),
            )
            for f in factors
        }
        self.modalities = {
            m.name: Modality(m.name, _names(f"modality '{m.name}'", m.levels), tuple(m.depends_on))
            for m in modalities
        }
        self.controls = {
            c.name: Control(c.name, _names(f"control '{c.name}'", c.levels)) for c in controls
        }
        every = [*self.factors, *self.modalities, *self.controls]
        if len(set(every)) != len(every) or len(every) != len(factors) + len(modalities) + len(
            controls
        ):
            raise ValueError(
                f"model '{name}': names of factors, modalities and controls must be "
                f"unique, got {every}"
            )
        for f in self.factors.values():
            for dep in f.depends_on:
                if dep not in self.factors or dep == f.name:
                    raise ValueError(
                        f"factor '{f.name}': depends_on '{dep}' is not another "
                        f"declared factor (factors: {list(self.factors)})"
                    )
            for c in f.controls:
                if c not in self.controls:
                    raise ValueError(
                        f"factor '{f.name}': control '{c}' is not declared "
                        f"(controls: {list(self.controls)})"
                    )
        for m in self.modalities.values():
            if not m.depends_on:
                raise ValueError(f"modality '{m.name}': depends_on must name at least one factor")
            for dep in m.depends_on:
                if dep not in self.factors:
                    raise ValueError(
                        f"modality '{m.name}': depends_on '{dep}' is not a declared "
                        f"factor (factors: {list(self.factors)})"
                    )
        self.A = {m: np.zeros(self.A_shape(m)) for m in self.modalities}
        self.B = {f: np.zeros(self.B_shape(f)) for f in self.factors}
        self.C = {m: np.zeros(len(self.modalities[m].levels)) for m in self.modalities}
        self.D = {f: np.full(len(v.levels), 1.0 / len(v.levels)) for f, v in self.factors.items()}

    # ---- layout ------------------------------------------------------------------------------

    def levels(self, name: str) -> tuple[str, ...]:
        """Levels of a factor, modality or control."""
        for table in (self.factors, self.modalities, self.controls):
            if name in table:
                return table[name].levels
        raise ValueError(f"model '{self.name}': unknown name '{name}'")

    def A_dims(self, modality: str) -> tuple[str, ...]:
        m = self._modality(modality)
        return (m.name, *m.depends_on)

    def B_dims(self, factor: str) -> tuple[str, ...]:
        """Axis names of B[factor]: the next level is ``<factor>_next``."""
        f = self._factor(factor)
        return (f"{f.name}_next", f.name, *f.depends_on, *f.controls)

    def A_shape(self, modality: str) -> tuple[int, ...]:
        m = self._modality(modality)
        return (len(m.levels), *(len(self.factors[d].levels) for d in m.depends_on))

    def B_shape(self, factor: str) -> tuple[int, ...]:
        f = self._factor(factor)
        n = len(f.levels)
        return (
            n,
            n,
            *(len(self.factors[d].levels) for d in f.depends_on),
            *(len(self.controls[c].levels) for c in f.controls),
        )

    def _factor(self, name: str) -> Factor:
        if name not in self.factors:
            raise ValueError(
                f"model '{self.name}': unknown factor '{name}' (factors: {list(self.factors)})"
            )
        return self.factors[name]

    def _modality(self, name: str) -> Modality:
        if name not in self.modalities:
            raise ValueError(
                f"model '{self.name}': unknown modality '{name}' "
                f"(modalities: {list(self.modalities)})"
            )
        return self.modalities[name]

    def _vector(self, what: str, levels: tuple[str, ...], probs: Probs) -> np.ndarray:
        if isinstance(probs, Mapping):
            out = np.zeros(len(levels))
            for level, p in probs.items():
                if level not in levels:
                    raise ValueError(f"{what}: unknown level '{level}' (levels: {list(levels)})")
                out[levels.index(level)] = float(p)
            return out
        out = np.asarray(probs, dtype=float)
        if out.shape != (len(levels),):
            raise ValueError(
                f"{what}: expected {len(levels)} values for levels {list(levels)}, "
                f"got shape {out.shape}"
            )
        return out

    def _index(self, what: str, dims: tuple[str, ...], given: Mapping[str, str | int]) -> tuple:
        index: list[int | slice] = [slice(None)] * len(dims)
        for key, level in given.items():
            if key not in dims[1:]:
                raise ValueError(
                    f"{what}: '{key}' is not one of its conditioning axes {list(dims[1:])}"
                )
            axis = dims.index(key, 1)
            name = key if not key.endswith("_next") else key[: -len("_next")]
            levels = self.levels(name)
            if isinstance(level, (int, np.integer)):
                index[axis] = int(level)
            elif level in levels:
                index[axis] = levels.index(level)
            else:
                raise ValueError(f"{what}: '{key}' has no level '{level}' (levels: {list(levels)})")
        return tuple(index)

    # ---- filling by name ---------------------------------------------------------------------

    def set_likelihood(self, modality: str, probs: Probs, **given: str | int) -> None:
        """Set P(modality | given) for every column matching ``given`` (factor=level, by name)."""
        dims = self.A_dims(modality)
        vec = self._vector(f"modality '{modality}'", self.modalities[modality].levels, probs)
        index = self._index(f"modality '{modality}'", dims, given)
        view = self.A[modality][index]
        self.A[modality][index] = np.broadcast_to(
            vec.reshape((-1,) + (1,) * (view.ndim - 1)), view.shape
        )

    def set_transition(self, factor: str, probs: Probs, **given: str | int) -> None:
        """Set P(factor_next | given) for every column matching ``given`` (factors and controls)."""
        dims = self.B_dims(factor)
        vec = self._vector(f"factor '{factor}'", self.factors[factor].levels, probs)
        index = self._index(f"factor '{factor}'", dims, given)
        view = self.B[factor][index]
        self.B[factor][index] = np.broadcast_to(
            vec.reshape((-1,) + (1,) * (view.ndim - 1)), view.shape
        )

    def set_preference(self, modality: str, values: Probs) -> None:
        """Log-preferences C over the levels of a modality (unnormalised; pymdp uses them as is)."""
        self.C[modality] = self._vector(
            f"modality '{modality}'", self.modalities[modality].levels, values
        )

    def set_initial(self, factor: str, probs: Probs) -> None:
        """Initial belief D over the levels of a factor."""
        self.D[factor] = self._vector(f"factor '{factor}'", self.factors[factor].levels, probs)

    # ---- checks ------------------------------------------------------------------------------

    def validate(self, *, atol: float = 1e-6) -> None:
        """Raise ValueError naming the factor / modality and the first column that is not a
        probability distribution (or an array of the wrong shape)."""
        for kind, table, arrays, dims_of in (
            ("modality", self.modalities, self.A, self.A_dims),
            ("factor", self.factors, self.B, self.B_dims),
        ):
            for name in table:
                array = np.asarray(arrays[name])
                shape = self.A_shape(name) if kind == "modality" else self.B_shape(name)
                if array.shape != shape:
                    raise ValueError(
                        f"{kind} '{name}': array shape {array.shape} does not match "
                        f"the declared levels {shape} (axes {dims_of(name)})"
                    )
                _check_columns(f"{kind} '{name}'", array, dims_of(name), self.levels, atol)
        for name, d in self.D.items():
            _check_columns(
                f"factor '{name}' initial state D",
                np.asarray(d)[:, None],
                (name, "_"),
                self.levels,
                atol,
            )
        for name, c in self.C.items():
            if np.asarray(c).shape != (len(self.modalities[name].levels),) or not np.all(
                np.isfinite(c)
            ):
                raise ValueError(
                    f"modality '{name}': preferences C must be "
                    f"{len(self.modalities[name].levels)} finite values"
                )


def _check_columns(what: str, array: np.ndarray, dims: tuple[str, ...], levels_of, atol: float):
    if np.any(~np.isfinite(array)) or np.any(array < 0):
        bad = np.argwhere(~np.isfinite(array) | (array < 0))[0]
        raise ValueError(
            f"{what}: negative or non-finite entry at {_describe(dims, bad, levels_of)}"
        )
    sums = array.sum(axis=0)
    wrong = np.argwhere(np.abs(sums - 1.0) > atol)
    if wrong.size:
        col = wrong[0]
        raise ValueError(
            f"{what}: column {_describe(dims[1:], col, levels_of)} sums to "
            f"{sums[tuple(col)]:.6g}, not 1"
        )


def _describe(dims: Sequence[str], index: Sequence[int], levels_of) -> str:
    parts = []
    for dim, i in zip(dims, index, strict=False):
        if dim == "_":
            continue
        base = dim[: -len("_next")] if dim.endswith("_next") else dim
        try:
            parts.append(f"{dim}={levels_of(base)[int(i)]}")
        except ValueError:
            parts.append(f"{dim}={int(i)}")
    return "[" + ", ".join(parts) + "]"
