"""The generalized porous-medium equation ``u_t = ∇·(k(u)∇u)`` by conservative finite volumes.

On a :class:`~neuralpde.cell_grid.CellGrid` with cell averages ``u_i`` the semi-discrete system is

    du_i/dt = −Σ_d (F_{i+½e_d} − F_{i−½e_d}) / h_d,   F_{i+½e_d} = −(Φ(u_{i+e_d}) − Φ(u_i)) / h_d,

with ``Φ`` the Kirchhoff potential of the diffusivity (second order, also at degenerate fronts).
Boundary faces: Dirichlet ``g`` gives ``F = −(Φ(u_0) − Φ(g)) / (h/2)`` at a low side (mirrored at
a high side), Neumann gives the prescribed inflow, and periodic axes wrap.

Mass ``M = Σ_i u_i |cell|`` then changes only by the boundary inflows, exactly at the discrete
level. The ODE state augments ``u`` with the inflow accumulated through each side,
``c_s(t) = ∫₀ᵗ Σ_faces q_s |face|``, so any Runge–Kutta method keeps the linear invariant
``M(t) − Σ_s c_s(t) = M(0)`` to round-off and the file's flux record is exactly the mass change.
In 1D the state is ordered ``[c_low, u_0, …, u_{n−1}, c_high]``, keeping the Jacobian
tridiagonal for implicit solvers; in 2D it is ``[u.ravel(), c_x_low, c_x_high, c_y_low, c_y_high]``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from neuralpde._typing import Array, Float
from neuralpde.cell_grid import CellGrid
from neuralpde.pde.boundary import (
    AxisConditions,
    Dirichlet,
    Neumann,
    NoFlux,
    Periodic,
    check_boundaries,
)
from neuralpde.pde.diffusivity import AbstractDiffusivity, PowerDiffusivity


def _pad_axis(x: Array, axis: int, before: int, after: int) -> Array:
    widths = [(0, 0)] * x.ndim
    widths[axis] = (before, after)
    return jnp.pad(x, widths)


class GeneralizedPorousMedium(eqx.Module):
    """``u_t = ∇·(k(u)∇u)`` on a box, with one boundary condition per side.

    Attributes:
        grid: the cell grid (1D or 2D).
        diffusivity: ``k(u)`` with its potential ``Φ``.
        boundaries: per axis, ``Periodic()`` or a ``(low, high)`` pair of side conditions.
    """

    grid: CellGrid
    diffusivity: AbstractDiffusivity
    boundaries: tuple[AxisConditions, ...]

    def __init__(self, grid: CellGrid, diffusivity: AbstractDiffusivity, boundaries):
        self.grid = grid
        self.diffusivity = diffusivity
        self.boundaries = check_boundaries(boundaries, grid.ndim)

    @property
    def n_sides(self) -> int:
        return 2 * self.grid.ndim

    def rates(self, t, u: Float[Array, "*space"]) -> tuple[Float[Array, "*space"], Array]:
        """``(du/dt, inflow rate per side (2·ndim,))``, sides ordered x_low, x_high, y_low, …"""
        phi = self.diffusivity.potential(u)
        du = None
        inflow = []
        for axis, conditions in enumerate(self.boundaries):
            h, n = self.grid.spacing[axis], self.grid.shape[axis]
            first = lax.slice_in_dim(phi, 0, 1, axis=axis)
            last = lax.slice_in_dim(phi, n - 1, n, axis=axis)
            if isinstance(conditions, Periodic):
                low = high = (last - first) / h  # the flux through the wrapped face
            else:
                low = self._side_flux(t, conditions[0], first, axis, 0)
                high = -self._side_flux(t, conditions[1], last, axis, 1)
            # Interior faces zero-padded, then the boundary faces added as one-cell pads: building
            # all faces with one concatenate let XLA fuse Φ into it and recompute the power
            # several times per cell (measured 5 ms against 1.2 ms in 2D).
            interior = _pad_axis(-jnp.diff(phi, axis=axis) / h, axis, 1, 1)
            change = -jnp.diff(interior, axis=axis) / h
            change = (change + _pad_axis(low / h, axis, 0, n - 1)
                      - _pad_axis(high / h, axis, n - 1, 0))
            du = change if du is None else du + change
            area = self.grid.face_area(axis)
            inflow += [jnp.sum(low) * area, -jnp.sum(high) * area]
        return du, jnp.stack(inflow)

    def _side_flux(self, t, condition, phi_edge, axis: int, side: int) -> Array:
        """Inflow per unit area through one side, shaped like the edge slice of ``phi``."""
        if isinstance(condition, NoFlux):
            return jnp.zeros_like(phi_edge)
        points = self.grid.face_points(axis, side, phi_edge.dtype)
        if isinstance(condition, Neumann):
            value = condition.evaluate(t, points)
            return jnp.expand_dims(value, axis).astype(phi_edge.dtype)
        if isinstance(condition, Dirichlet):
            g = jnp.expand_dims(condition.evaluate(t, points), axis)
            return (self.diffusivity.potential(g) - phi_edge) * (2 / self.grid.spacing[axis])
        raise TypeError(f"unknown boundary condition {condition!r}")

    def mass(self, u: Float[Array, "*space"]) -> Float[Array, ""]:
        """``M = Σ u_i |cell|``."""
        return jnp.sum(u) * self.grid.cell_volume

    def pack(self, u: Float[Array, "*space"]) -> Float[Array, " state"]:
        """The ODE state for ``u`` with zero accumulated inflow.

        Raises:
            ValueError: ``u`` has the wrong shape, or (when concrete) is negative somewhere while
                the diffusivity is a power ``u^m``, for which ``u ≥ 0`` is required.
        """
        if u.shape != self.grid.shape:
            raise ValueError(f"initial field has shape {u.shape}, the grid {self.grid.shape}")
        if isinstance(self.diffusivity, PowerDiffusivity) and not isinstance(u, jax.core.Tracer):
            low = float(jnp.min(u))
            if low < 0:
                raise ValueError(
                    f"the porous-medium equation needs u >= 0, but the initial field reaches "
                    f"{low:.3g}; porous-medium densities cannot be negative"
                )
        zeros = jnp.zeros(self.n_sides, u.dtype)
        if self.grid.ndim == 1:
            return jnp.concatenate([zeros[:1], u, zeros[1:]])
        return jnp.concatenate([u.ravel(), zeros])

    def unpack(self, y: Float[Array, " state"]) -> tuple[Float[Array, "*space"], Array]:
        """``(u, accumulated inflow per side)`` from the ODE state."""
        if self.grid.ndim == 1:
            return y[1:-1], jnp.stack([y[0], y[-1]])
        return y[: -self.n_sides].reshape(self.grid.shape), y[-self.n_sides :]

    def vector_field(self, t, y: Float[Array, " state"], args=None) -> Float[Array, " state"]:
        """The diffrax vector field on the packed state."""
        u, _ = self.unpack(y)
        du, inflow = self.rates(t, u)
        if self.grid.ndim == 1:
            return jnp.concatenate([inflow[:1], du, inflow[1:]])
        return jnp.concatenate([du.ravel(), inflow])

