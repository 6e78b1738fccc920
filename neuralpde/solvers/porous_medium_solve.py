"""Time-step a :class:`~neuralpde.pde.GeneralizedPorousMedium` with diffrax, adaptively.

Methods (``SolverOptions.method``):

- ``auto`` (the default): ``ros4`` where the packed state has a tridiagonal Jacobian (1D, not
  periodic), ``rkc`` otherwise (2D, 1D periodic).
- ``ros3``, ``ros4``: linearly implicit Rosenbrock methods, L-stable, order 3(2) with 3 stages
  and 2 new vector fields a step, and order 4(3) with 4 stages and 3 (Sandu et al. 1997, the
  ``Ros3``/``Ros4`` of KPP; ``Ros4`` is Hairer & Wanner's). No Newton iteration: a Jacobian
  (three coloured JVPs) and a Thomas factorisation a step, an ``O(n)`` solve a stage. 1D
  non-periodic grids only.
- ``rkc``: the explicit, second-order, damped Runge–Kutta–Chebyshev method, whose stability
  interval grows like ``s²`` with the stage count ``s`` (chosen per step from a bound on the
  Jacobian's spectral radius): made for diffusion.
- ``kvaerno3``, ``kvaerno5``: diffrax's ESDIRK methods, stages solved by Newton's method
  (:class:`optimistix.Newton`) with a tridiagonal solver in 1D and matrix-free GMRES in 2D.
- ``tsit5``, ``dopri5``: explicit, bounded by the diffusive limit ``dt ≲ h²/(2 d k_max)``.

Measured with ``benchmarks/gpme_solver.py`` on 2 shared CPU cores (load ~2; float64; 32
trajectories vmapped; 101 stored times; the L1 error against the exact solution is the same for
every row of a case, so it is spatial):

- 1D, ProbConserv's travelling front, ``m ∈ [1, 6]``, 256 cells, ``t ∈ [0, 1]``:
  kvaerno5 + VeryChord (rtol 1e-3) 98 s (20 645 steps, most rejected: VeryChord judges its
  convergence in f-space, ``1/(γh)`` times stricter than the step tolerance); kvaerno5 + Newton
  8.4 s (510 steps, 16 ms a step), 5.4 s with the PI controller (415 steps); ros4 at rtol 1e-4
  2.7 s (3 305 steps, 0.8 ms a step); ros3 at rtol 1e-2 0.7 s (1 048 steps). SciPy's BDF with a
  tridiagonal sparsity (rtol 1e-4; not faster looser): 33 s, ~1 s a trajectory.
- 2D, Barenblatt, ``m ∈ [1, 3]``, 64², ``t ∈ [0, 0.5]``, no-flux walls: tsit5 ~6 s (350 steps at
  the stability limit, 6 vector fields each); rkc 1.2 s at rtol 1e-4 (161 steps of ~8 stages),
  0.9 s at 1e-3; kvaerno5 + GMRES 160 s (no preconditioner). SciPy's BDF with a 5-point
  sparsity: 20 s, ~0.6 s a trajectory.

Where an ESDIRK step goes: per implicit stage ~3 Newton iterations (a batch waits for its
slowest member: 4–5), each rebuilding the Jacobian (~2 vector fields of work) and solving. A
Rosenbrock step costs one Jacobian, one factorisation, a solve (a Thomas scan: ~60 µs for 32
systems of 258, against 150 µs for LAPACK's ``gtsv``) and at most one vector field per stage,
with no iteration whose count differs between batch members. It takes 3–5× more steps than
Kvaerno5 (linearised at ``y₀``, the front advances only a few cells a step: the dry cells ahead
have ``k = 0``) but is ~15× cheaper a step. The step count is set by the front crossing cells,
not by the tolerance, and the implicit methods use a PI controller (``pcoeff = icoeff = 0.3``:
a fifth of the rejections, ~5% fewer steps). RKC keeps diffrax's I controller (PI took 30% more
steps).

Every method keeps the linear invariant "mass minus accumulated inflow" of the packed state to
round-off whatever the step size: Runge–Kutta and RKC stages are affine combinations of the
state and vector fields, and each Rosenbrock stage ``K`` solves ``(I/(γh) − J) K = r`` with
``wᵀJ = 0`` and ``wᵀr = 0`` for the invariant's weights ``w``, so ``wᵀK = 0``. The time
derivative of the vector field (Dirichlet data varying in time) enters Rosenbrock stages by a
JVP in ``t``, not by a finite difference, whose cancellation error broke that balance (5e-13
instead of 2e-15); without it the methods drop to first order on time-dependent data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optimistix as optx
from jax import lax

from neuralpde._typing import Array, Float
from neuralpde.pde.boundary import Periodic
from neuralpde.pde.porous_medium import GeneralizedPorousMedium

Method = Literal["auto", "tsit5", "dopri5", "rkc", "kvaerno3", "kvaerno5", "ros3", "ros4"]
EXPLICIT = {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5}
IMPLICIT = {"kvaerno3": diffrax.Kvaerno3, "kvaerno5": diffrax.Kvaerno5}
ROSENBROCK = ("ros3", "ros4")
METHODS = ("auto", *EXPLICIT, "rkc", *IMPLICIT, *ROSENBROCK)

# PI step-size control for the (linearly) implicit methods; see the module docstring.
STIFF_PCOEFF = 0.3
STIFF_ICOEFF = 0.3


# --------------------------------------------------------------------------------------------
# Tridiagonal Jacobians and their factorisation
# --------------------------------------------------------------------------------------------


def tridiagonal_jacobian(mv, like: Float[Array, " n"]) -> tuple[Array, Array, Array]:
    """The diagonals of a Jacobian known to be tridiagonal, from three coloured products.

    ``mv`` is the Jacobian-vector product. With ``e_c`` the indicator of the indices ``≡ c (mod
    3)``, row ``i`` of ``J e_{i mod 3}`` is ``J_{i,i}`` and rows ``i ± 1`` hold ``J_{i±1,i}``.
    The entries are picked with masks rather than gathers (cheaper under ``vmap``). The masks
    are built on ``like`` (any vector of the state's type), so that they carry its batching and
    sharding: lineax's closure-converted operators refuse arguments of another type.

    Returns:
        ``(lower, diagonal, upper)``, each ``(n,)``: ``lower[i] = J[i, i−1]`` (``lower[0] = 0``),
        ``upper[i] = J[i, i+1]`` (``upper[−1] = 0``).
    """
    (n,) = like.shape
    colour = np.arange(n) % 3
    zeros = jnp.zeros_like(like)
    masks = [zeros + jnp.asarray(colour == c, like.dtype) for c in range(3)]
    columns = [mv(mask) for mask in masks]
    diagonal = sum(m * col for m, col in zip(masks, columns, strict=True))
    # J[i, i−1] sits in the product with the colour of i − 1, at row i.
    lower = sum(m[:-1] * col[1:] for m, col in zip(masks, columns, strict=True))
    upper = sum(m[1:] * col[:-1] for m, col in zip(masks, columns, strict=True))
    return (jnp.concatenate([zeros[:1], lower]), diagonal, jnp.concatenate([upper, zeros[:1]]))


class ThomasFactor(eqx.Module):
    """LU factors of a tridiagonal matrix without pivoting (the Thomas algorithm).

    Safe for the matrices here, ``I/(γh) − J`` with ``J`` the finite-volume Jacobian: their
    cell block is column diagonally dominant (``k ≥ 0``), and the accumulator rows, whose
    columns are zero in ``J``, do not enter the elimination of the cells. A zero pivot gives
    non-finite values, which reject the step.
    """

    lower: Array  # M[i, i−1]
    inverse_pivot: Array
    upper: Array  # U[i, i+1] of the unit upper factor

    @classmethod
    def factor(cls, lower, diagonal, upper) -> ThomasFactor:
        def eliminate(upper_before, row):
            a, b, c = row
            inverse_pivot = 1 / (b - a * upper_before)
            return c * inverse_pivot, (inverse_pivot, c * inverse_pivot)

        start = jnp.zeros((), diagonal.dtype)
        _, (inverse_pivot, reduced) = lax.scan(eliminate, start, (lower, diagonal, upper))
        return cls(lower, inverse_pivot, reduced)

    def solve(self, rhs: Array) -> Array:
        def forward(before, row):
            a, p, d = row
            value = (d - a * before) * p
            return value, value

        def backward(after, row):
            d, c = row
            value = d - c * after
            return value, value

        start = jnp.zeros((), rhs.dtype)
        _, reduced = lax.scan(forward, start, (self.lower, self.inverse_pivot, rhs))
        _, solution = lax.scan(backward, start, (reduced, self.upper), reverse=True)
        return solution


class TridiagonalJacobian(lx.AbstractLinearSolver):
    """A lineax solver for an operator known, not tagged, to be tridiagonal, on a flat vector.

    diffrax builds its stage Jacobians without structure tags, and lineax then materialises them
    densely (``n`` JVPs, ``O(n³)`` solve: 72 ms a step at n = 256). Here three JVPs give the
    diagonals (:func:`tridiagonal_jacobian`) and LAPACK's ``gtsv`` solves in ``O(n)``. The
    diagonals are extracted at the first solve, where a vector of the operator's input type is
    at hand (Newton's method solves once per operator). ``gtsv`` rather than
    :class:`ThomasFactor`: with the Thomas scan, Kvaerno5 results changed in the last bits
    between a batch of one and of two (datagen's batch-independence test); with ``gtsv`` they
    do not.
    """

    def init(self, operator, options):
        return operator

    def compute(self, state, vector, options):
        lower, diagonal, upper = tridiagonal_jacobian(state.mv, vector)
        solution = lax.linalg.tridiagonal_solve(lower, diagonal, upper, vector[:, None])[:, 0]
        return solution, lx.RESULTS.successful, {}

    def transpose(self, state, options):
        return state.transpose(), options

    def conj(self, state, options):
        return state, options

    def assume_full_rank(self):
        return True


# --------------------------------------------------------------------------------------------
# Rosenbrock methods
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Runge–Kutta–Chebyshev
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Options and the solve
# --------------------------------------------------------------------------------------------


class SolverOptions(eqx.Module):
    """How to integrate: the method (see the module docstring), the error tolerances (diffrax's
    RMS norm of the packed state) and the step budget."""

    method: Method = eqx.field(static=True, default="auto")
    rtol: float = eqx.field(static=True, default=1e-6)
    atol: float = eqx.field(static=True, default=1e-8)
    max_steps: int = eqx.field(static=True, default=20_000)

    def __check_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; known: {sorted(METHODS)}")
        if not (self.rtol > 0 and self.atol > 0 and self.max_steps > 0):
            raise ValueError("rtol, atol and max_steps must be positive")


DEFAULT_OPTIONS = SolverOptions()


def has_tridiagonal_jacobian(pde: GeneralizedPorousMedium) -> bool:
    """1D and not periodic: the packed state ``[c_low, u, c_high]`` couples neighbours only."""
    return pde.grid.ndim == 1 and not isinstance(pde.boundaries[0], Periodic)


def resolve_method(method: str, pde: GeneralizedPorousMedium) -> str:
    """The concrete method for ``method`` (``auto``: ``ros4`` where tridiagonal, else ``rkc``).

    Raises:
        ValueError: a Rosenbrock method where the Jacobian is not tridiagonal.
    """
    tridiagonal = has_tridiagonal_jacobian(pde)
    if method == "auto":
        return "ros4" if tridiagonal else "rkc"
    if method in ROSENBROCK and not tridiagonal:
        raise ValueError(f"method {method!r} needs a tridiagonal Jacobian: a 1D grid without "
                         "periodic boundaries; use rkc, tsit5 or kvaerno5")
    return method


def make_solver(options: SolverOptions, pde: GeneralizedPorousMedium) -> diffrax.AbstractSolver:
    method = resolve_method(options.method, pde)
    if method in EXPLICIT:
        return EXPLICIT[method]()
    if method in ROSENBROCK:
        return TridiagonalRosenbrock(method)
    if method == "rkc":
        return RungeKuttaChebyshev(pde)
    if has_tridiagonal_jacobian(pde):
        linear_solver = TridiagonalJacobian()
    else:
        linear_solver = lx.GMRES(rtol=options.rtol * 1e-2, atol=options.atol * 1e-2, restart=40)
    root_finder = optx.Newton(rtol=options.rtol, atol=options.atol, linear_solver=linear_solver)
    return IMPLICIT[method](root_finder=root_finder)


def make_controller(options: SolverOptions, pde: GeneralizedPorousMedium):
    if resolve_method(options.method, pde) in (*EXPLICIT, "rkc"):
        return diffrax.PIDController(rtol=options.rtol, atol=options.atol)
    return diffrax.PIDController(rtol=options.rtol, atol=options.atol, pcoeff=STIFF_PCOEFF,
                                 icoeff=STIFF_ICOEFF)


def solve_porous_medium(
    pde: GeneralizedPorousMedium,
    u0: Float[Array, "*space"],
    times: Float[Array, " time"],
    options: SolverOptions = DEFAULT_OPTIONS,
) -> dict[str, Any]:
    """Integrate from ``times[0]`` and record every stored time. Unbatched; vmap outside.

    Args:
        pde: the equation with its grid, diffusivity and boundary conditions.
        u0: cell averages at ``times[0]``, ``grid.shape``.
        times: stored times ``(T,)``, increasing.
        options: method, tolerances and step budget.

    Returns:
        A dict: ``u (T, *space)``; ``mass (T,)``; ``boundary_flux (T, 2·ndim)``, the inflow through
        each side over ``[t_{j−1}, t_j]`` (0 at ``j = 0``); ``finite (T,)``, False from the time the
        solver stopped (step budget spent or a non-finite state); ``steps``, ``rejected_steps``.
    """
    y0 = pde.pack(u0)
    # Frame 0 is y0 itself, saved up front: diffrax saves ``ts`` only after accepted steps, so
    # a solve that never accepts one would otherwise lose it.
    saveat = diffrax.SaveAt(t0=True, ts=times[1:]) if times.shape[0] > 1 else diffrax.SaveAt(
        t0=True)
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(pde.vector_field),
        make_solver(options, pde),
        t0=times[0],
        t1=times[-1],
        dt0=None,
        y0=y0,
        saveat=saveat,
        stepsize_controller=make_controller(options, pde),
        max_steps=options.max_steps,
        throw=False,
    )
    ys = solution.ys
    finite = jnp.all(jnp.isfinite(ys), axis=-1)
    u, accumulated = eqx.filter_vmap(pde.unpack)(ys)
    flux = jnp.diff(accumulated, axis=0, prepend=jnp.zeros_like(accumulated[:1]))
    return {
        "u": u,
        "mass": eqx.filter_vmap(pde.mass)(u),
        "boundary_flux": flux,
        "finite": finite,
        "steps": solution.stats["num_steps"],
        "rejected_steps": solution.stats["num_rejected_steps"],
    }
