"""The residual of the finite-volume generalized porous-medium equation between two frames."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from neuralpde._typing import Array, Float
from neuralpde.constraints.residual_penalty import AbstractResidual
from neuralpde.pde.porous_medium import GeneralizedPorousMedium


class PorousMediumResidual(AbstractResidual):
    """Trapezoidal (Crank–Nicolson) residual of the semi-discrete GPME ``du/dt = F(t, u)``::

        r = (u₁ − u₀)/Δt − (F(t₀, u₀) + F(t₀ + Δt, u₁))/2,

    with ``F`` the conservative finite-volume operator ``pde.rates`` on cell averages (boundary
    data taken at each frame's time). The trapezoidal rule is of order 2: on the exact cell
    averages ``ū`` of a solution, ``r = τ_h(t₀ + Δt/2) + O(Δt²)``, where
    ``τ_h = dū/dt − F(t, ū)`` is the spatial truncation error: ``O(h²)`` where the solution is
    smooth, but ``O(1)`` in Dirichlet half cells, ``O(h^{1/m − 1})`` at a ``u^m`` front and a
    flux dipole ``O(1/h)`` at a Stefan front (the scheme's global error still converges).

    Adding ``δ`` to ``u₁`` adds ``δ/Δt − (F(t₁, u₁ + δ) − F(t₁, u₁))/2``, which is within
    ``Σ_d 2 k_max |δ|_∞ / h_d²`` of ``δ/Δt`` in max norm, ``k_max`` the largest ``k`` between
    ``u₁`` and ``u₁ + δ`` (``Φ`` is ``k_max``-Lipschitz there, and each cell's stencil weights
    sum to at most ``4/h_d²``). Mass: ``Σ_i r_i |cell| = (M₁ − M₀)/Δt − (q₀ + q₁)/2``, ``q`` the
    total boundary inflow rate.

    Args:
        pde: the equation on its cell grid.
        dt: the time ``Δt > 0`` between input and prediction (may be traced).

    Call with ``u0, u1`` of the grid's shape ``(*space)`` (unbatched) and the input time ``t0``;
    returns ``r (*space)``.
    """

    order: ClassVar[int] = 2
    pde: GeneralizedPorousMedium
    dt: Float[Array, ""]

    def __init__(self, pde: GeneralizedPorousMedium, dt):
        self.pde = pde
        self.dt = jnp.asarray(dt)

    def __call__(self, u0: Float[Array, "*space"], u1: Float[Array, "*space"],
                 t0: float | Float[Array, ""]) -> Float[Array, "*space"]:
        shape = self.pde.grid.shape
        for name, u in (("u0", u0), ("u1", u1)):
            if u.shape != shape or u.dtype != u0.dtype:
                raise ValueError(f"{name} must be a field of the grid's shape {shape} and of u0's "
                                 f"dtype {u0.dtype} (unbatched: vmap outside), got {u.dtype} "
                                 f"{u.shape}")
        dt = self.dt.astype(u0.dtype)
        t0 = jnp.asarray(t0, u0.dtype)
        rate0, _ = self.pde.rates(t0, u0)
        rate1, _ = self.pde.rates(t0 + dt, u1)
        return (u1 - u0) / dt - (rate0 + rate1) / 2
