"""Absolute position encoding by random Fourier features of the grid coordinates."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from neuralpde._typing import Array, Float
from neuralpde.models.fno import grid_coordinates


class FixedBasis(nnx.Variable):
    """A constant drawn at initialisation from the ``params`` stream and never trained."""


class FourierGridEncoding(nnx.Module):
    """Learned map of random Fourier features of the grid, added to the hidden field::

        e(x) = W [sin(2π x B), cos(2π x B)] + b,   B ∈ ℝ^{d × dim/2},  B_ij ~ N(0, σ²)

    with ``x = j / n`` per axis in ``[0, 1)`` (:func:`grid_coordinates`). ``B`` is fixed, as in
    the reference (a :class:`FixedBasis`, not a parameter); ``W``, ``b`` are learned. The
    reference's Kolmogorov script feeds coordinates in ``[0, 2π]``, which is ``σ`` 2π times
    larger on the unit grid; ``σ = 8`` here follows its unit-coordinate examples. The encoding
    depends on absolute position, so it breaks translation equivariance.

    Args:
        spatial_dims: number of spatial axes ``d``; dim: channels (even).
        scale: ``σ``; dtype, param_dtype: activation and parameter dtypes.
        rngs: the ``params`` stream draws ``B`` and the weights.

    Reference:
        Tancik et al. (2020), "Fourier Features Let Networks Learn High Frequency Functions in
        Low Dimensional Domains", NeurIPS; used per layer in FactFormer (Li et al. 2023).
    """

    def __init__(
        self,
        spatial_dims: int,
        dim: int,
        *,
        scale: float = 8.0,
        dtype: jnp.dtype | str = jnp.float32,
        param_dtype: jnp.dtype | str = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if dim % 2:
            raise ValueError(f"FourierGridEncoding needs an even dim, got {dim}")
        self.dtype = jnp.dtype(dtype)
        basis = scale * jax.random.normal(rngs.params(), (spatial_dims, dim // 2))
        self.basis = FixedBasis(basis.astype(param_dtype))
        self.linear = nnx.Linear(dim, dim, dtype=self.dtype, param_dtype=param_dtype, rngs=rngs)

    def __call__(self, space: tuple[int, ...]) -> Float[Array, "*space dim"]:
        """The encoding on a grid of shape ``space``, to broadcast over the batch."""
        x = grid_coordinates(space, jnp.promote_types(self.dtype, jnp.float32))
        phase = 2 * jnp.pi * x @ self.basis[...].astype(x.dtype)
        features = jnp.concatenate([jnp.sin(phase), jnp.cos(phase)], axis=-1)
        return self.linear(features.astype(self.dtype))
