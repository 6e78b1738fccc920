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

from typing import Any, Literal

import diffrax
import equinox as eqx
import jax.numpy as jnp
import lineax as lx
import optimistix as optx

from neuralpde._typing import Array, Float
from neuralpde.pde.boundary import Periodic
from neuralpde.pde.porous_medium import GeneralizedPorousMedium
from neuralpde.solvers.rosenbrock import TridiagonalRosenbrock
from neuralpde.solvers.runge_kutta_chebyshev import RungeKuttaChebyshev
from neuralpde.solvers.tridiagonal import TridiagonalJacobian

Method = Literal["auto", "tsit5", "dopri5", "rkc", "kvaerno3", "kvaerno5", "ros3", "ros4"]
EXPLICIT = {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5}
IMPLICIT = {"kvaerno3": diffrax.Kvaerno3, "kvaerno5": diffrax.Kvaerno5}
ROSENBROCK = ("ros3", "ros4")
METHODS = ("auto", *EXPLICIT, "rkc", *IMPLICIT, *ROSENBROCK)

# PI step-size control for the (linearly) implicit methods; see the module docstring.
STIFF_PCOEFF = 0.3
STIFF_ICOEFF = 0.3


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
    # A first step of 1e-6 of the span, grown by the controller within a few steps: diffrax's
    # own initial-step guess failed from a dry (u = 0) porous-medium state, where Tsit5 then
    # rejected every step.
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(pde.vector_field),
        make_solver(options, pde),
        t0=times[0],
        t1=times[-1],
        dt0=(times[-1] - times[0]) * 1e-6,
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
