"""The FNO data generator's scheme: Crank–Nicolson diffusion with explicit advection."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from neuralpde._typing import Array, Complex, Float
from neuralpde.solvers._base import AbstractStepper, SemiLinearPDE


class FNOCrankNicolson(AbstractStepper):
    """Crank–Nicolson on ``L``, forward Euler on ``N`` (Li et al. 2021, ``navier_stokes_2d``)::

        û_{n+1} = ((1 + h L/2) ûₙ + h N(ûₙ)) / (1 − h L/2).

    First order in time (second order where ``N`` vanishes); one evaluation of ``N`` per step.
    Use it to regenerate the published FNO data faithfully, with their ``dt = 1e-4``.

    Args:
        pde: the semi-linear equation.
        dt: time step ``h``.
    """

    pde: SemiLinearPDE
    dt: float | Float[Array, ""]
    explicit_factor: Float[Array, "..."]
    implicit_factor: Float[Array, "..."]

    order: ClassVar[int] = 1
    nonlinear_evaluations: ClassVar[int] = 1

    def __init__(self, pde: SemiLinearPDE, dt: float | Float[Array, ""]):
        self.pde = pde
        self.dt = dt
        half_step = 0.5 * dt * pde.linear_symbol()
        self.explicit_factor = 1.0 + half_step
        self.implicit_factor = 1.0 / (1.0 - half_step)

    def __call__(self, state: Complex[Array, "..."]) -> Complex[Array, "..."]:
        update = self.explicit_factor * state + self.dt * self.pde.nonlinear(state)
        return (self.implicit_factor * update).astype(jnp.result_type(state))
