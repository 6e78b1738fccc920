"""Second-order exponential time differencing Runge–Kutta (ETDRK2)."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from neuralpde._typing import Array, Complex, Float
from neuralpde.solvers._base import AbstractStepper, SemiLinearPDE
from neuralpde.solvers._phi import phi1, phi2


class ETDRK2(AbstractStepper):
    """ETDRK2 of Cox & Matthews (2002), exact on the linear part::

        a = e^{hL} ûₙ + h φ₁(hL) N(ûₙ)
        û_{n+1} = a + h φ₂(hL) (N(a) − N(ûₙ))

    Second order; two evaluations of ``N`` (ten FFTs for Navier–Stokes) per step.

    Args:
        pde: the semi-linear equation.
        dt: time step ``h``.
    """

    pde: SemiLinearPDE
    dt: float | Float[Array, ""]
    exp_linear: Float[Array, "..."]
    coef_1: Float[Array, "..."]
    coef_2: Float[Array, "..."]

    order: ClassVar[int] = 2
    nonlinear_evaluations: ClassVar[int] = 2

    def __init__(self, pde: SemiLinearPDE, dt: float | Float[Array, ""]):
        self.pde = pde
        self.dt = dt
        z = dt * pde.linear_symbol()
        self.exp_linear = jnp.exp(z)
        self.coef_1 = dt * phi1(z)
        self.coef_2 = dt * phi2(z)

    def __call__(self, state: Complex[Array, "..."]) -> Complex[Array, "..."]:
        n_state = self.pde.nonlinear(state)
        a = self.exp_linear * state + self.coef_1 * n_state
        return a + self.coef_2 * (self.pde.nonlinear(a) - n_state)
