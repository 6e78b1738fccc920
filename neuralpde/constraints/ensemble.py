"""Mean and variance of an ensemble of predictions, the input of a probabilistic update."""

from __future__ import annotations

import jax.numpy as jnp

from neuralpde._typing import Array, Float


def ensemble_moments(
    means: Float[Array, "member n"], variances: Float[Array, "member n"] | None = None
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Mean and diagonal variance of the uniform mixture of the members::

        μ = (1/m) Σ_m μ_m,   σ² = (1/m) Σ_m σ_m² + (1/m) Σ_m (μ_m − μ)²

    (law of total variance; a plain ensemble has ``σ_m² = 0``, a deep ensemble of heteroscedastic
    heads gives ``σ_m²``; Lakshminarayanan et al., NeurIPS 2017).

    Args:
        means: ``(members, n)`` member predictions.
        variances: ``(members, n)`` member variances, or ``None``.

    Returns:
        ``(μ (n,), σ² (n,))``.
    """
    if variances is not None and variances.shape != means.shape:
        raise ValueError(f"variances of shape {variances.shape} do not match means of shape "
                         f"{means.shape}")
    mean = jnp.mean(means, axis=0)
    spread = jnp.mean((means - mean) ** 2, axis=0)
    return mean, spread if variances is None else spread + jnp.mean(variances, axis=0)
