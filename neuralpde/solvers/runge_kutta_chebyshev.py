"""The second-order Runge–Kutta–Chebyshev method for diffusion-dominated states.

Explicit, with the number of stages grown to a bound on the Jacobian's spectral radius, so the
cost grows like ``√ρ`` rather than ``ρ`` (Verwer, Hundsdorfer & Sommeijer 1990).
"""

from __future__ import annotations

from typing import ClassVar

import diffrax
import equinox as eqx
import jax.numpy as jnp
from jax import lax

from neuralpde._typing import Array, Float
from neuralpde.pde.porous_medium import GeneralizedPorousMedium


def spectral_radius_bound(pde: GeneralizedPorousMedium, y: Float[Array, " state"]) -> Array:
    """``ρ(∂f/∂y) ≤ max_i k(u_i) Σ_d 4/h_d²`` for the finite-volume vector field at ``y``.

    The Jacobian is ``L K``: ``K = diag(k(u))`` and ``L`` the symmetric finite-volume Laplacian
    (Dirichlet faces add ``2/h²`` to its diagonal), whose rows sum in modulus to at most
    ``4/h_d²`` per axis; ``L K`` is similar to ``K^{1/2} L K^{1/2}``. The accumulator entries add
    only zero eigenvalues.
    """
    u, _ = pde.unpack(y)
    return jnp.max(jnp.abs(pde.diffusivity(u))) * sum(4 / h**2 for h in pde.grid.spacing)


class RungeKuttaChebyshev(diffrax.AbstractAdaptiveSolver):
    """RKC: the explicit, second-order, damped Runge–Kutta–Chebyshev method for diffusion.

    Sommeijer, Shampine & Verwer (1998), ``rkc.f``: ``s`` stages built on Chebyshev polynomials
    with damping ``ε = 2/13`` are stable for ``h ρ ≤ 0.65 s²`` (Tsit5: ``h ρ ≲ 3.5``), so a step
    takes ``s = 1 + ⌊√(1 + 1.54 h ρ)⌋`` vector fields with ``ρ`` (times ``safety``) the bound of
    :func:`spectral_radius_bound` at ``y₀``: cost grows like ``√ρ``, not ``ρ``. The error estimate
    is ``0.8 (y₀ − y₁) + 0.4 h (f₀ + f₁)`` (local order 3), and ``f₁`` is carried to the next
    step. Stages are affine combinations of ``y₀`` and vector fields, so the mass balance holds.
    """

    pde: GeneralizedPorousMedium
    safety: float = eqx.field(static=True, default=1.2)
    damping: float = eqx.field(static=True, default=2 / 13)

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar = diffrax.ThirdOrderHermitePolynomialInterpolation

    def order(self, terms):
        return 2

    def error_order(self, terms):
        return 3

    def init(self, terms, t0, t1, y0, args):
        return terms.vf(t0, y0, args)

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)

    def stages(self, h, y) -> Array:
        """``s`` for a step ``h`` from ``y``: at least 2."""
        radius = self.safety * spectral_radius_bound(self.pde, y)
        return jnp.maximum(2, 1 + jnp.floor(jnp.sqrt(1 + 1.54 * h * radius))).astype(jnp.int32)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        def vf(t, y):
            return terms.vf(t, y, args)

        f0 = solver_state
        if made_jump is not False:
            f0 = lax.cond(made_jump, lambda: vf(t0, y0), lambda: f0)
        h = t1 - t0
        s = self.stages(h, y0)
        count = s.astype(y0.dtype)
        # w0, w1 and the Chebyshev recurrences T_j(w0), T_j'(w0), T_j''(w0) as in rkc.f.
        w0 = 1 + self.damping / count**2
        root = jnp.sqrt(w0**2 - 1)
        argument = count * jnp.log(w0 + root)
        w1 = jnp.sinh(argument) * (w0**2 - 1) / (
            jnp.cosh(argument) * count * root - w0 * jnp.sinh(argument))
        b1 = 1 / (2 * w0) ** 2
        mu_tilde = w1 * b1
        one, zero = jnp.ones_like(w0), jnp.zeros_like(w0)
        # (y_{j−1}, y_{j−2}, T, T', T'' at j−1 and j−2, b_{j−1}, b_{j−2}, c_{j−1}, c_{j−2})
        state = (y0 + (mu_tilde * h) * f0, y0, w0, one, one, zero, zero, zero, b1, b1, mu_tilde,
                 zero)

        def stage(_, state):
            y1, y2, z1, z2, dz1, dz2, ddz1, ddz2, b_1, b_2, c1, c2 = state
            z = 2 * w0 * z1 - z2
            dz = 2 * w0 * dz1 - dz2 + 2 * z1
            ddz = 2 * w0 * ddz1 - ddz2 + 4 * dz1
            b = ddz / dz**2
            a_1 = 1 - z1 * b_1
            mu = 2 * w0 * b / b_1
            nu = -b / b_2
            mu_tilde = mu * w1 / w0
            f = vf(t0 + c1 * h, y1)
            y = mu * y1 + nu * y2 + (1 - mu - nu) * y0 + (mu_tilde * h) * (f - a_1 * f0)
            c = mu * c1 + nu * c2 + mu_tilde * (1 - a_1)
            return y, y1, z, z1, dz, dz1, ddz, ddz1, b, b_1, c, c1

        y1 = lax.fori_loop(2, s + 1, stage, state)[0]
        f1 = vf(t1, y1)
        y_error = 0.8 * (y0 - y1) + (0.4 * h) * (f0 + f1)
        dense_info = dict(y0=y0, y1=y1, k0=h * f0, k1=h * f1)
        return y1, y_error, dense_info, f1, diffrax.RESULTS.successful
