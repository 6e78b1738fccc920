"""Linearly implicit Rosenbrock methods (Ros3, Ros4) for 1D states with tridiagonal Jacobians.

Sandu et al. 1997 (the KPP ``Ros3``/``Ros4``; ``Ros4`` is Hairer & Wanner's). One Jacobian and
one Thomas factorisation a step, one ``O(n)`` solve a stage, no Newton iteration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from neuralpde._typing import Array
from neuralpde.solvers.tridiagonal import ThomasFactor, tridiagonal_jacobian


@dataclass(frozen=True)
class RosenbrockTableau:
    """``(I/(γh) − J) K_i = f(t₀ + α_i h, y₀ + Σ_j A_ij K_j) + Σ_j C_ij K_j / h + γ_i h ∂_t f``;
    ``y₁ = y₀ + Σ M_j K_j``, error ``Σ E_j K_j`` (Hairer & Wanner's transformed form, as in KPP).

    ``new_f[i]`` False reuses the previous stage's vector field (its ``A`` row equals the one
    before). ``gamma[0]`` is the diagonal ``γ``.
    """

    a: np.ndarray
    c: np.ndarray
    m: np.ndarray
    e: np.ndarray
    alpha: np.ndarray
    gamma: np.ndarray
    new_f: tuple[bool, ...]
    order: int

    @classmethod
    def from_rows(cls, a, c, m, e, alpha, gamma, order, new_f=None) -> RosenbrockTableau:
        """``a`` and ``c`` as their strictly lower triangles row by row (a21, a31, a32, …)."""
        stages = len(m)
        full_a, full_c = np.zeros((stages, stages)), np.zeros((stages, stages))
        rows, cols = np.tril_indices(stages, -1)
        full_a[rows, cols], full_c[rows, cols] = a, c
        new_f = (True,) * stages if new_f is None else tuple(new_f)
        return cls(full_a, full_c, np.asarray(m, float), np.asarray(e, float),
                   np.asarray(alpha, float), np.asarray(gamma, float), new_f, order)


_ROS3_GAMMA = 0.43586652150845899941601945119356
TABLEAUS = {
    # L-stable, order 3(2), 3 stages with 2 vector fields (Sandu et al. 1997).
    "ros3": RosenbrockTableau.from_rows(
        a=[1.0, 1.0, 0.0],
        c=[-1.0156171083877702091975600115545, 4.0759956452537699824805835358067,
           9.2076794298330791242156818474003],
        m=[1.0, 6.1697947043828245592553615689730, -0.42772256543218573326238373806514],
        e=[0.5, -2.9079558716805469821718236208017, 0.22354069897811569627360909276199],
        alpha=[0.0, _ROS3_GAMMA, _ROS3_GAMMA],
        gamma=[_ROS3_GAMMA, 0.24291996454816804366592249683314,
               2.1851380027664058511513169485832],
        order=3, new_f=(True, True, False)),
    # L-stable, order 4(3), 4 stages with 3 vector fields (Hairer & Wanner 1996, IV.7).
    "ros4": RosenbrockTableau.from_rows(
        a=[2.0, 1.867943637803922, 0.2344449711399156, 1.867943637803922, 0.2344449711399156,
           0.0],
        c=[-7.137615036412310, 2.580708087951457, 0.6515950076447975, -2.137148994382534,
           -0.3214669691237626, -0.6949742501781779],
        m=[2.255570073418735, 0.2870493262186792, 0.4353179431840180, 1.093502252409163],
        e=[-0.2815431932141155, -0.07276199124938920, -0.1082196201495311, -1.093502252409163],
        alpha=[0.0, 1.145640000000000, 0.6552168638155900, 0.6552168638155900],
        gamma=[0.5728200000000000, -1.769193891319233, 0.7592633437920482,
               -0.1049021087100450],
        order=4, new_f=(True, True, True, False)),
}


def _combine(weights, vectors):
    """``Σ w_j v_j`` over the nonzero static weights (``None`` if there are none)."""
    terms = [float(w) * v for w, v in zip(weights, vectors, strict=False) if w != 0]
    return sum(terms[1:], terms[0]) if terms else None


class TridiagonalRosenbrock(diffrax.AbstractAdaptiveSolver):
    """An adaptive Rosenbrock method for ODEs whose Jacobian is tridiagonal (1D packed state).

    Per step: the Jacobian at ``(t₀, y₀)`` from three JVPs, one Thomas factorisation of
    ``I/(γh) − J``, then one solve a stage. ``∂_t f`` comes from a JVP in ``t``; non-finite
    entries (data like ``t^{1/m}`` at ``t = 0``) are taken as 0. The vector field at ``y₁`` is
    carried to the next step (FSAL) and gives the cubic Hermite dense output.
    """

    tableau: str = eqx.field(static=True, default="ros4")

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar = diffrax.ThirdOrderHermitePolynomialInterpolation

    def __check_init__(self):
        if self.tableau not in TABLEAUS:
            raise ValueError(f"unknown Rosenbrock tableau {self.tableau!r}; known: "
                             f"{sorted(TABLEAUS)}")

    def order(self, terms):
        return TABLEAUS[self.tableau].order

    def error_order(self, terms):
        return TABLEAUS[self.tableau].order

    def init(self, terms, t0, t1, y0, args):
        return terms.vf(t0, y0, args)

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        tab = TABLEAUS[self.tableau]

        def vf(t, y):
            return terms.vf(t, y, args)

        f0 = solver_state
        if made_jump is not False:
            f0 = lax.cond(made_jump, lambda: vf(t0, y0), lambda: f0)
        h = t1 - t0
        _, time_derivative = jax.jvp(lambda t: vf(t, y0), (t0,), (jnp.ones_like(t0),))
        time_derivative = jnp.where(jnp.isfinite(time_derivative), time_derivative, 0)
        _, jvp = jax.linearize(lambda y: vf(t0, y), y0)
        lower, diagonal, upper = tridiagonal_jacobian(jvp, y0)
        factor = ThomasFactor.factor(-lower, 1 / (tab.gamma[0] * h) - diagonal, -upper)

        stages: list[Array] = []
        f_stage = f0
        for i in range(len(tab.m)):
            if i > 0 and tab.new_f[i]:
                increment = _combine(tab.a[i, :i], stages)
                y_stage = y0 if increment is None else y0 + increment
                f_stage = vf(t0 + tab.alpha[i] * h, y_stage)
            rhs = f_stage
            coupling = _combine(tab.c[i, :i], stages)
            if coupling is not None:
                rhs = rhs + coupling / h
            if tab.gamma[i] != 0:
                rhs = rhs + (tab.gamma[i] * h) * time_derivative
            stages.append(factor.solve(rhs))
        y1 = y0 + _combine(tab.m, stages)
        y_error = _combine(tab.e, stages)
        f1 = vf(t1, y1)
        dense_info = dict(y0=y0, y1=y1, k0=h * f0, k1=h * f1)
        return y1, y_error, dense_info, f1, diffrax.RESULTS.successful
