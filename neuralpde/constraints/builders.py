"""Linear constraints from the integral form of the conservation laws of our equation families."""

from __future__ import annotations

import jax.numpy as jnp

from neuralpde._typing import Array, Float, Scalar
from neuralpde.constraints.linear_constraint import LinearConstraint


def _floating(value) -> Array:
    value = jnp.asarray(value)
    return value if jnp.issubdtype(value.dtype, jnp.floating) else value.astype(float)


def mass_constraint(cell_volume: float, n: int, mass: float | Scalar) -> LinearConstraint:
    """The field of ``n`` cells holds ``mass``: ``Σ_i u_i |cell| = M``.

    ``G = |cell| 1ᵀ (1, n)``, ``b = (M,)``, in the dtype of ``mass``.

    Args:
        cell_volume: ``|cell|``, the file's ``scalars/cell_volume``.
        n: number of cells.
        mass: ``M``, a scalar.
    """
    b = _floating(mass).reshape(1)
    return LinearConstraint(jnp.full((1, n), cell_volume, b.dtype), b)


def mass_balance_constraint(
    state: Float[Array, "*space"], cell_volume: float, inflow: float | Scalar
) -> LinearConstraint:
    """The next state's mass is the current mass plus the inflow over the step::

        Σ_i u_i^{j+1} |cell| = Σ_i u_i^j |cell| + F^{j+1}

    For our porous-medium files ``F^{j+1} = Σ_sides scalars/boundary_flux_<side>[:, j+1]`` (see
    :func:`~neuralpde.constraints.read_mass_budget`); ``F = 0`` for no-flux boundaries.

    Args:
        state: the current state ``u^j`` on the grid, any shape (``n = state.size`` cells).
        cell_volume: ``|cell|``.
        inflow: ``F^{j+1}``, the total inflow through the boundary over the step.

    Returns:
        The constraint on the flattened next state, ``G (1, n)``.
    """
    mass = jnp.sum(state) * cell_volume + inflow
    return mass_constraint(cell_volume, state.size, mass)


def zero_mean_constraint(n: int, dtype=float) -> LinearConstraint:
    """The mean of the field vanishes: ``(1/n) Σ_i u_i = 0``; ``G = 1ᵀ/n (1, n)``, ``b = (0,)``.

    The vorticity of a periodic Navier–Stokes flow (its integral is the circulation round the
    torus, zero) and any other zero-mean field.
    """
    return LinearConstraint(jnp.full((1, n), 1 / n, dtype), jnp.zeros(1, dtype))
