"""ProbConserv's update: a Gaussian prediction conditioned on a linear conservation law."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from neuralpde._typing import Array, Float
from neuralpde.constraints._solve import psd_generalized_inverse
from neuralpde.constraints.linear_constraint import LinearConstraint


def probconserv_update(
    mu: Float[Array, " n"],
    variance: Float[Array, " n"] | Float[Array, "n n"],
    constraint: LinearConstraint,
    sigma2: float | Float[Array, ""] = 0.0,
    *,
    dense: bool | None = None,
) -> tuple[Float[Array, " n"], Float[Array, " n"] | Float[Array, "n n"]]:
    """Condition ``N(μ, Σ)`` on the noisy observation ``G u = b + ε``, ``ε ~ N(0, σ² I)``::

        μ' = μ − Σ Gᵀ (G Σ Gᵀ + σ² I)⁻¹ (G μ − b)
        Σ' = Σ − Σ Gᵀ (G Σ Gᵀ + σ² I)⁻¹ G Σ

    ``σ² = 0`` imposes ``G μ' = b`` exactly; ``Σ = I, σ² = 0`` is the orthogonal projection onto
    ``{G u = b}``; after the update ``G μ' − b = σ² (G Σ Gᵀ + σ² I)⁻¹ (G μ − b)``. A diagonal
    ``Σ`` is never made dense (``Σ Gᵀ = var[:, None] Gᵀ``): ``O(n k²)`` work. The ``k × k`` inverse
    is :func:`~neuralpde.constraints._solve.psd_generalized_inverse`, so a singular system
    (zero variances, duplicate rows) gives a finite answer, never ``NaN``. Unbatched: ``vmap``
    outside. Hansen et al., "Learning physical models that can respect conservation laws",
    ICML 2023.

    Args:
        mu: predicted mean, ``(n,)`` (a flattened field).
        variance: ``(n,)`` diagonal of ``Σ`` (``>= 0``), or the dense covariance ``(n, n)``.
        constraint: ``G (k, n)``, ``b (k,)``.
        sigma2: observation noise ``σ² >= 0`` (checked when concrete).
        dense: form of the returned covariance: ``None`` the form of ``variance``, ``True`` the
            dense ``Σ' (n, n)``, ``False`` its diagonal ``(n,)``.

    Returns:
        ``(μ' (n,), Σ')``, ``Σ'`` as chosen by ``dense``.

    Raises:
        ValueError: ``G`` does not fit ``mu``, ``variance`` is neither ``(n,)`` nor ``(n, n)``, or a
            concrete ``σ²`` is negative.
    """
    constraint.check_field(mu)
    n = mu.shape[0]
    if variance.shape not in ((n,), (n, n)):
        raise ValueError(f"variance must have shape ({n},) or ({n}, {n}) for mu of shape "
                         f"({n},), got {variance.shape}")
    if not isinstance(sigma2, jax.core.Tracer) and np.any(np.asarray(sigma2) < 0):
        raise ValueError(f"the noise level sigma2 must be >= 0, got {sigma2}")
    diagonal = variance.ndim == 1
    dense = not diagonal if dense is None else dense
    dtype = jnp.result_type(mu, variance)
    G = constraint.G.astype(dtype)
    b = constraint.b.astype(dtype)

    # gain = Σ Gᵀ (n, k); M = G Σ Gᵀ + σ² I (k, k).
    gain = variance[:, None] * G.T if diagonal else variance @ G.T
    M = G @ gain + jnp.asarray(sigma2, dtype) * jnp.eye(G.shape[0], dtype=dtype)
    X = psd_generalized_inverse(M)
    mean = mu - gain @ (X @ (G @ mu - b))
    gain_X = gain @ X
    if dense:
        prior = jnp.diag(variance) if diagonal else variance
        return mean, prior - gain_X @ gain.T
    prior = variance if diagonal else jnp.diagonal(variance)
    return mean, prior - jnp.sum(gain_X * gain, axis=1)


def hard_projection(mu: Float[Array, " n"], constraint: LinearConstraint) -> Float[Array, " n"]:
    """The orthogonal projection of ``mu`` onto ``{G u = b}``::

        u = μ − Gᵀ (G Gᵀ)⁻¹ (G μ − b)

    :func:`probconserv_update` with ``Σ = I`` and ``σ² = 0``, without the covariance. Duplicate
    or dependent rows of ``G`` are handled by the same generalised inverse.

    Args:
        mu: ``(n,)``, a flattened field.
        constraint: ``G (k, n)``, ``b (k,)``.

    Returns:
        ``(n,)``, the closest field (in the Euclidean norm) that satisfies the constraint.
    """
    constraint.check_field(mu)
    G = constraint.G.astype(mu.dtype)
    b = constraint.b.astype(mu.dtype)
    return mu - G.T @ (psd_generalized_inverse(G @ G.T) @ (G @ mu - b))
