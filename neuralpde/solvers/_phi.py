"""Exponential-integrator coefficients by contour integrals (Kassam & Trefethen, 2005).

For ``z = h L`` the functions ``φ(z)`` below lose all precision to cancellation near ``z = 0``.
Averaging ``φ(z + r_j)`` over ``M`` points ``r_j`` on a unit circle around each ``z`` is the
trapezoidal rule for Cauchy's integral formula, accurate to round-off for every ``z``. The symbols
here are real, so the upper half circle and the real part suffice.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from neuralpde._typing import Array, Float

_CONTOUR_POINTS = 32


def contour_mean(
    function: Callable[[Array], Array], z: Float[Array, "..."]
) -> Float[Array, "..."]:
    """``Re mean_j function(z + exp(iπ(j − ½)/M))``: ``function`` analytic near each real ``z``."""
    dtype = jnp.asarray(z).dtype
    complex_dtype = jnp.result_type(dtype, jnp.complex64)
    angles = jnp.pi * (jnp.arange(_CONTOUR_POINTS, dtype=dtype) + 0.5) / _CONTOUR_POINTS
    points = z[..., None].astype(complex_dtype) + jnp.exp(1j * angles).astype(complex_dtype)
    return jnp.mean(function(points), axis=-1).real.astype(dtype)


def phi1(z: Float[Array, "..."]) -> Float[Array, "..."]:
    """``φ₁(z) = (eᶻ − 1) / z``."""
    return contour_mean(lambda s: jnp.expm1(s) / s, z)


def phi2(z: Float[Array, "..."]) -> Float[Array, "..."]:
    """``φ₂(z) = (eᶻ − 1 − z) / z²``."""
    return contour_mean(lambda s: (jnp.expm1(s) - s) / s**2, z)
