"""Diffusivities ``k(u)`` of the generalized porous-medium equation and their Kirchhoff potentials.

Each diffusivity gives ``k(u)`` and ``Φ(u) = ∫₀ᵘ k(s) ds``, so that ``∇·(k(u)∇u) = ΔΦ(u)``. The
finite-volume flux is then a difference of ``Φ``, which keeps second order at degenerate fronts
where face averages of ``k`` do not (arithmetic means fall to about order 1.2 for ``m = 3``, and
harmonic means freeze the front).
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from neuralpde._typing import Array


class AbstractDiffusivity(eqx.Module):
    """``k(u) ≥ 0`` and its potential ``Φ(u) = ∫₀ᵘ k``; both act elementwise."""

    def __call__(self, u: Array) -> Array:
        raise NotImplementedError

    def potential(self, u: Array) -> Array:
        raise NotImplementedError



class ConstantDiffusivity(AbstractDiffusivity):
    """``k = k₀``: the heat equation ``u_t = k₀ Δu``."""

    value: Array

    def __check_init__(self):
        _require_nonnegative(self.value, "constant diffusivity")

    def __call__(self, u):
        return jnp.full_like(u, self.value)

    def potential(self, u):
        return self.value * u



class PowerDiffusivity(AbstractDiffusivity):
    """``k = u^m`` (porous medium), ``Φ = u^{m+1} / (m+1)``, on ``u⁺ = max(u, 0)``.

    ``m = 0`` is the heat equation. Negative undershoots of an integrator see ``k = 0``, which
    keeps ``u^m`` real for non-integer ``m``.
    """

    exponent: Array

    def __check_init__(self):
        _require_nonnegative(self.exponent, "porous-medium exponent m")

    def __call__(self, u):
        return jnp.maximum(u, 0) ** self.exponent

    def potential(self, u):
        return jnp.maximum(u, 0) ** (self.exponent + 1) / (self.exponent + 1)



class StepDiffusivity(AbstractDiffusivity):
    """Stefan: ``k = k_max`` for ``u ≥ u*`` and ``k_min`` below, optionally smoothed.

    With ``width = 0``, ``Φ = k_min u + (k_max − k_min)(u − u*)⁺``: the enthalpy method, with ``u``
    the enthalpy and ``Φ`` the temperature. With ``width = w > 0`` the step becomes the logistic
    ``k_min + (k_max − k_min) σ((u − u*)/w)`` and ``Φ`` its exact integral,
    ``k_min u + (k_max − k_min) w [softplus((u − u*)/w) − softplus(−u*/w)]``.
    """

    threshold: Array
    high: float = 1.0
    low: float = 0.0
    width: float = eqx.field(static=True, default=0.0)

    def __check_init__(self):
        if not (0 <= self.low <= self.high):
            raise ValueError(f"Stefan diffusivities need 0 <= low <= high, got {self.low}, "
                             f"{self.high}")
        if self.width < 0:
            raise ValueError(f"Stefan smoothing width must be >= 0, got {self.width}")

    def __call__(self, u):
        if self.width == 0:
            return jnp.where(u >= self.threshold, self.high, self.low).astype(u.dtype)
        return self.low + (self.high - self.low) * jax.nn.sigmoid((u - self.threshold) / self.width)

    def potential(self, u):
        jump = self.high - self.low
        if self.width == 0:
            return self.low * u + jump * jnp.maximum(u - self.threshold, 0)
        w = self.width
        return self.low * u + jump * w * (
            jax.nn.softplus((u - self.threshold) / w) - jax.nn.softplus(-self.threshold / w)
        )



class CallableDiffusivity(AbstractDiffusivity):
    """A user's ``k(u)``; ``Φ`` by 8-point Gauss–Legendre on ``[0, u]`` unless given.

    The quadrature is exact for polynomial ``k`` up to degree 15. Pass ``potential`` for a
    non-smooth ``k``, where quadrature converges slowly.
    """

    function: Callable[[Array], Array] = eqx.field(static=True)
    potential_function: Callable[[Array], Array] | None = eqx.field(static=True, default=None)

    def __call__(self, u):
        return self.function(u)

    def potential(self, u):
        if self.potential_function is not None:
            return self.potential_function(u)
        nodes, weights = np.polynomial.legendre.leggauss(8)
        s = jnp.asarray((nodes + 1) / 2, u.dtype)
        w = jnp.asarray(weights / 2, u.dtype)
        return u * sum(w[i] * self.function(u * s[i]) for i in range(len(s)))


def _require_nonnegative(value, what: str) -> None:
    if isinstance(value, jax.core.Tracer):
        return  # sampled inside jit: the recipe checked its range
    if np.any(np.asarray(value) < 0):
        raise ValueError(f"{what} must be >= 0, got {value}")
