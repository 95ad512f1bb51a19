"""Jittable spaces with the interface of gymnax's (``gymnax.environments.spaces``, below 1.0).

A faithful minimal copy, so the functional environment needs no gymnax (and no flax) installed:
the same attributes (``n``, ``low``, ``high``, ``shape``, ``dtype``) and the same ``sample(key)`` /
``contains(x)``. Libraries that read these attributes (rejax, purejaxrl) take them unchanged.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


class Space:
    """A jittable space: ``sample(key)`` and ``contains(x)``."""

    def sample(self, key: jax.Array) -> jax.Array:
        raise NotImplementedError

    def contains(self, x: jax.Array) -> Any:
        raise NotImplementedError


class Discrete(Space):
    """Integers 0 .. n-1."""

    def __init__(self, num_categories: int) -> None:
        if num_categories < 1:
            raise ValueError(f"num_categories: must be >= 1, got {num_categories}")
        self.n = int(num_categories)
        self.shape: tuple[int, ...] = ()
        self.dtype = jax.dtypes.canonicalize_dtype(jnp.int_)  # int32 unless x64 is on

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, shape=self.shape, minval=0, maxval=self.n).astype(self.dtype)

    def contains(self, x: jax.Array) -> jax.Array:
        return jnp.logical_and(x >= 0, x < self.n)


class Box(Space):
    """Arrays of ``shape`` between ``low`` and ``high`` (elementwise)."""

    def __init__(self, low, high, shape: tuple[int, ...], dtype=jnp.float32) -> None:
        self.low = low
        self.high = high
        self.shape = tuple(shape)
        self.dtype = dtype

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.uniform(key, shape=self.shape, minval=self.low, maxval=self.high).astype(
            self.dtype
        )

    def contains(self, x: jax.Array) -> jax.Array:
        return jnp.logical_and(jnp.all(x >= self.low), jnp.all(x <= self.high))
