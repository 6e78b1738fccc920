"""Fourth-order exponential time differencing Runge–Kutta (ETDRK4)."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from neuralpde._typing import Array, Complex, Float
from neuralpde.solvers._base import AbstractStepper, SemiLinearPDE
from neuralpde.solvers._phi import etdrk4_weights, half_step_phi1


class ETDRK4(AbstractStepper):
    """ETDRK4 of Cox & Matthews (2002), coefficients as in Kassam & Trefethen (2005)::

        a = E₂ûₙ + Q N(ûₙ),   b = E₂ûₙ + Q N(a),   c = E₂a + Q (2N(b) − N(ûₙ)),
        û_{n+1} = E ûₙ + f₁ N(ûₙ) + 2 f₂ (N(a) + N(b)) + f₃ N(c),

    with ``E = e^{hL}``, ``E₂ = e^{hL/2}``, ``Q = h φ₁(hL/2)/2`` and ``f₁, f₂, f₃`` the
    Kassam–Trefethen weights. Fourth order; four evaluations of ``N`` per step.

    Args:
        pde: the semi-linear equation.
        dt: time step ``h``, a number or a traced scalar (the coefficients are cheap to rebuild).
    """

    pde: SemiLinearPDE
    dt: float | Float[Array, ""]
    exp_full: Float[Array, "..."]
    exp_half: Float[Array, "..."]
    coef_half: Float[Array, "..."]
    f1: Float[Array, "..."]
    f2: Float[Array, "..."]
    f3: Float[Array, "..."]

    order: ClassVar[int] = 4
    nonlinear_evaluations: ClassVar[int] = 4

    def __init__(self, pde: SemiLinearPDE, dt: float | Float[Array, ""]):
        self.pde = pde
        self.dt = dt
        z = dt * pde.linear_symbol()
        self.exp_full = jnp.exp(z)
        self.exp_half = jnp.exp(0.5 * z)
        self.coef_half = dt * half_step_phi1(z)
        self.f1, self.f2, self.f3 = (dt * f for f in etdrk4_weights(z))

    def __call__(self, state: Complex[Array, "..."]) -> Complex[Array, "..."]:
        nonlinear = self.pde.nonlinear
        n_state = nonlinear(state)
        a = self.exp_half * state + self.coef_half * n_state
        n_a = nonlinear(a)
        b = self.exp_half * state + self.coef_half * n_a
        n_b = nonlinear(b)
        c = self.exp_half * a + self.coef_half * (2 * n_b - n_state)
        n_c = nonlinear(c)
        return self.exp_full * state + self.f1 * n_state + 2 * self.f2 * (n_a + n_b) + self.f3 * n_c
