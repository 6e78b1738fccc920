"""The regularised inverse of ``M = G Σ Gᵀ + σ² I`` shared by the conservation updates."""

from __future__ import annotations

import jax.numpy as jnp

from neuralpde._typing import Array, Float


def psd_generalized_inverse(matrix: Float[Array, "k k"]) -> Float[Array, "k k"]:
    """A generalised inverse ``X`` (``M X M = M``) of a symmetric positive semi-definite ``M``::

        D = diag(M)^{-1/2}  (0 where M_ii = 0),   X = D (D M D)⁺ D

    ``(D M D)⁺`` is the SVD pseudo-inverse, singular values below ``10 k ε`` cut (``ε`` of the
    dtype). ``X = M⁻¹`` when ``M`` is well conditioned after Jacobi scaling, so hard constraints
    hold to round-off; where ``M`` is singular (zero variances, duplicate rows, ``σ² = 0``) the
    directions in its null space are dropped rather than turned into ``inf``/``NaN``. Those
    directions carry no correction: ``Σ Gᵀ v = 0`` whenever ``vᵀ M v = 0`` with ``σ² = 0``, so the
    updated mean and covariance do not depend on the choice of ``X`` for consistent constraints.
    The scaling makes the cut independent of each row's units (a mass row and a mean row
    together). ``jnp.linalg.pinv`` has its own JVP, so gradients stay finite at singular ``M``.
    """
    scale = jnp.diagonal(matrix)
    positive = scale > 0
    d = jnp.where(positive, 1 / jnp.sqrt(jnp.where(positive, scale, 1)), 0)
    scaled = jnp.linalg.pinv(d[:, None] * matrix * d[None, :], hermitian=True)
    return d[:, None] * scaled * d[None, :]
