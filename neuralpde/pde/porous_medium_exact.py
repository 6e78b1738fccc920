"""Exact solutions of ``u_t = ∇·(k(u)∇u)``, as callables ``u(t, x)`` with ``x`` ``(..., ndim)``.

They serve as initial conditions, as time-dependent Dirichlet data, and as test oracles.

- :class:`HeatMode`: ``k = κ₀``, ``u = A e^{−κ₀|ξ|²t} Π_d sin(ξ_d (x_d − a_d))``.
- :class:`TravellingFront`: ``k = u^m``, ``u = (m (t − x)⁺)^{1/m}`` (ProbConserv's PME, 2023).
- :class:`Barenblatt`: ``k = u^m``, the radial self-similar (Zel'dovich–Kompaneets–Barenblatt)
  solution in ``d = 1, 2``.
- :class:`StefanSimilarity`: ``k = K`` for ``u ≥ u*`` and 0 below, ``u(0, t) = 1``, ``u(x, 0) = 0``:
  ``u = 1 − (1 − u*) erf(η)/erf(z₁)`` for ``η = x / (2√(Kt)) < z₁`` and 0 beyond, the front at
  ``2 z₁ √(Kt)``, where ``u* z₁ erf(z₁) e^{z₁²} = (1 − u*)/√π``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from neuralpde._typing import Array


class HeatMode(eqx.Module):
    """A decaying Fourier sine mode of the heat equation; zero on the faces ``ξ_d L_d ∈ πℤ``."""

    diffusivity: Array
    wavenumbers: tuple[float, ...] = eqx.field(static=True)
    lower: tuple[float, ...] = eqx.field(static=True)
    amplitude: float = 1.0

    def __call__(self, t, x: Array) -> Array:
        xi = jnp.asarray(self.wavenumbers, x.dtype)
        shape = jnp.prod(jnp.sin(xi * (x - jnp.asarray(self.lower, x.dtype))), axis=-1)
        return self.amplitude * jnp.exp(-self.diffusivity * jnp.sum(xi**2) * t) * shape


class TravellingFront(eqx.Module):
    """``u = (m (t − x)⁺)^{1/m}``: a front at ``x = t`` fed by ``u(0, t) = (m t)^{1/m}``."""

    exponent: Array

    def __call__(self, t, x: Array) -> Array:
        return (self.exponent * jnp.maximum(t - x[..., 0], 0)) ** (1 / self.exponent)


class Barenblatt(eqx.Module):
    """The ZKB source solution of ``u_t = ∇·(u^m ∇u) = Δ(u^{m+1})/(m+1)``, centred at ``center``.

    With ``M = m + 1`` and ``τ = (t + t₀)/M`` (the ``1/M`` maps our equation onto ``v_τ = Δv^M``):
    ``u = τ^{−α} [C − κ|x − x₀|² τ^{−2β}]₊^{1/m}``, ``α = d/(d m + 2)``, ``β = α/d``,
    ``κ = α m / (2 M d)``. The support is the ball of radius ``√(C/κ) τ^β``. The shift ``t₀ > 0``
    makes ``t = 0`` a smooth-enough initial condition.
    """

    exponent: Array
    center: tuple[float, ...] = eqx.field(static=True)
    scale: Array | float = 1.0
    time_shift: Array | float = 1.0

    def _constants(self, ndim: int):
        m = self.exponent
        alpha = ndim / (ndim * m + 2)
        beta = alpha / ndim
        kappa = alpha * m / (2 * (m + 1) * ndim)
        return alpha, beta, kappa

    def __call__(self, t, x: Array) -> Array:
        ndim = x.shape[-1]
        alpha, beta, kappa = self._constants(ndim)
        tau = (t + self.time_shift) / (self.exponent + 1)
        r2 = jnp.sum((x - jnp.asarray(self.center, x.dtype)) ** 2, axis=-1)
        profile = jnp.maximum(self.scale - kappa * r2 * tau ** (-2 * beta), 0)
        return tau ** (-alpha) * profile ** (1 / self.exponent)

    @classmethod
    def from_peak_and_radius(cls, exponent, peak, radius, center, ndim: int) -> Barenblatt:
        """The solution whose peak is ``peak`` and support radius ``radius`` at ``t = 0``.

        From ``peak = τ₀^{−α} C^{1/m}`` and ``radius = √(C/κ) τ₀^β``:
        ``τ₀ = ((κ r²)^{1/m} / peak)^{1/(α + 2β/m)}``, ``C = κ r² τ₀^{−2β}``, ``t₀ = (m + 1) τ₀``.
        """
        m = jnp.asarray(exponent)
        alpha = ndim / (ndim * m + 2)
        beta = alpha / ndim
        kappa = alpha * m / (2 * (m + 1) * ndim)
        tau0 = ((kappa * radius**2) ** (1 / m) / peak) ** (1 / (alpha + 2 * beta / m))
        return cls(m, tuple(center), kappa * radius**2 * tau0 ** (-2 * beta), (m + 1) * tau0)

    def front_radius(self, t, ndim: int) -> Array:
        _, beta, kappa = self._constants(ndim)
        tau = (t + self.time_shift) / (self.exponent + 1)
        return jnp.sqrt(self.scale / kappa) * tau**beta


def stefan_root(threshold: Array, iterations: int = 60) -> Array:
    """``z₁`` with ``u* z₁ erf(z₁) e^{z₁²} = (1 − u*)/√π``, by bisection on ``(0, 4]``.

    The left side increases from 0 on ``z > 0``, so the root is unique for ``0 < u* < 1``.
    """
    threshold = jnp.asarray(threshold)
    target = (1 - threshold) / jnp.sqrt(jnp.pi)

    def halve(_, bracket):
        low, high = bracket
        mid = (low + high) / 2
        above = threshold * mid * jax.scipy.special.erf(mid) * jnp.exp(mid**2) > target
        return jnp.where(above, low, mid), jnp.where(above, mid, high)

    low, high = lax.fori_loop(0, iterations, halve,
                              (jnp.zeros_like(threshold), jnp.full_like(threshold, 4.0)))
    return (low + high) / 2


class StefanSimilarity(eqx.Module):
    """Neumann's similarity solution of the one-phase Stefan problem (see the module docstring)."""

    threshold: Array
    high: float = 1.0

    def front(self, t) -> Array:
        return 2 * stefan_root(self.threshold) * jnp.sqrt(self.high * t)

    def __call__(self, t, x: Array) -> Array:
        z1 = stefan_root(self.threshold)
        safe_t = jnp.maximum(t, jnp.finfo(x.dtype).tiny)
        eta = x[..., 0] / (2 * jnp.sqrt(self.high * safe_t))
        liquid = 1 - (1 - self.threshold) * jax.scipy.special.erf(eta) / jax.scipy.special.erf(z1)
        at_boundary = x[..., 0] <= 0
        return jnp.where(at_boundary, 1.0, jnp.where((eta < z1) & (t > 0), liquid, 0.0)).astype(
            x.dtype
        )
