"""Boundary conditions of the finite-volume porous-medium equation, one per side of each axis.

Values may vary in time and along the face: a number, or a callable ``g(t, points)`` with
``points`` the face centres ``(*face, ndim)`` (``()``-shaped faces in 1D) returning ``(*face)``.
The exact solutions of :mod:`neuralpde.pde.porous_medium_exact` are such callables.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp

from neuralpde._typing import Array

BoundaryValue = float | Array | Callable[[Array, Array], Array]


def _evaluate(value: BoundaryValue, t, points: Array) -> Array:
    if callable(value):
        return jnp.asarray(value(t, points), points.dtype)
    return jnp.broadcast_to(jnp.asarray(value, points.dtype), points.shape[:-1])


class Dirichlet(eqx.Module):
    """``u = g(t, x)`` on the face; the flux uses ``Φ(g)`` half a cell from the cell centre."""

    value: BoundaryValue = 0.0

    def evaluate(self, t, points):
        return _evaluate(self.value, t, points)


class Neumann(eqx.Module):
    """A prescribed inflow ``q(t, x) = −k(u) ∂u/∂n`` (``n`` the outward normal) per unit area."""

    inflow: BoundaryValue = 0.0

    def evaluate(self, t, points):
        return _evaluate(self.inflow, t, points)


class NoFlux(eqx.Module):
    """A closed side: zero flux, so mass changes only through the other sides."""


class Periodic(eqx.Module):
    """The axis wraps around; give it for the whole axis, not for one side."""


SideCondition = Dirichlet | Neumann | NoFlux
AxisConditions = Periodic | tuple[SideCondition, SideCondition]


def check_boundaries(boundaries, ndim: int) -> tuple[AxisConditions, ...]:
    """Check one ``Periodic()`` or one ``(low, high)`` pair of side conditions per axis.

    Raises:
        ValueError: a wrong count, a one-sided periodic condition, or an unknown kind.
    """
    boundaries = tuple(boundaries)
    if len(boundaries) != ndim:
        raise ValueError(f"need boundary conditions for {ndim} axes, got {len(boundaries)}")
    for axis, conditions in enumerate(boundaries):
        if isinstance(conditions, Periodic):
            continue
        if not (isinstance(conditions, tuple) and len(conditions) == 2):
            raise ValueError(
                f"axis {axis}: give Periodic() or a (low, high) pair of Dirichlet, Neumann or "
                f"NoFlux, got {conditions!r}"
            )
        for side in conditions:
            if isinstance(side, Periodic):
                raise ValueError(
                    f"axis {axis}: periodic on one side only is inconsistent; make the whole "
                    "axis Periodic() or neither side"
                )
            if not isinstance(side, Dirichlet | Neumann | NoFlux):
                raise ValueError(f"axis {axis}: unknown boundary condition {side!r}")
    return boundaries
