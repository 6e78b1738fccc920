"""The residual of the 2D Navier–Stokes vorticity equation between a frame and the next."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from neuralpde._typing import Array, Field2D, Float
from neuralpde.constraints.residual_penalty import AbstractResidual
from neuralpde.pde.navier_stokes import NavierStokes2D


class NavierStokesResidual(AbstractResidual):
    """Implicit-midpoint (Crank–Nicolson in ``L``) residual of ``ω_t = Lω + N(ω)`` over ``Δt``::

        r = (ω₁ − ω₀)/Δt − L (ω₀ + ω₁)/2 − N((ω₀ + ω₁)/2),

    with ``L = νΔ − α`` and ``N(ω) = −P(u·∇ω) + f`` those of :class:`NavierStokes2D`: spectral
    derivatives, 2/3 dealiasing, one evaluation of ``N`` (four FFTs). The scheme is symmetric and of
    order 2: on an exact solution resolved by the grid,
    ``r = Δt² (ω'''/24 − L ω''/8 − N'(ω) ω''/8) + O(Δt⁴)``, all at ``t₀ + Δt/2``. Adding ``δ`` to
    ``ω₁`` adds ``δ/Δt − Lδ/2 − N'(ω̄)δ/2 + O(δ²)``, with ``ω̄ = (ω₀ + ω₁)/2``.

    Args:
        pde: the equation; its dtype must be that of the fields.
        dt: the time ``Δt > 0`` between input and prediction (may be traced).

    Call with ``w0, w1`` of shape ``(n, n)`` (unbatched); returns ``r (n, n)`` in their dtype.
    """

    order: ClassVar[int] = 2
    pde: NavierStokes2D
    dt: Float[Array, ""]

    def __init__(self, pde: NavierStokes2D, dt):
        self.pde = pde
        self.dt = jnp.asarray(dt, pde.viscosity.dtype)

    def __call__(self, w0: Field2D, w1: Field2D) -> Field2D:
        grid = self.pde.grid
        dtype = self.pde.viscosity.dtype
        for name, w in (("w0", w0), ("w1", w1)):
            if w.shape != (grid.n, grid.n) or w.dtype != dtype:
                raise ValueError(f"{name} must be a {dtype} field of shape {(grid.n, grid.n)} "
                                 f"(unbatched: vmap outside), got {w.dtype} {w.shape}")
        w0_hat, w1_hat = grid.to_spectral(w0), grid.to_spectral(w1)
        mid_hat = (w0_hat + w1_hat) / 2
        r_hat = ((w1_hat - w0_hat) / self.dt - self.pde.linear_symbol() * mid_hat
                 - self.pde.nonlinear(mid_hat))
        return grid.to_physical(r_hat)

