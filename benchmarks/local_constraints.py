"""Benchmark of local hard constraints (a mixture of subdomain experts) against global ones.

The constraint: one implicit (trapezoidal) finite-volume step of the porous-medium equation
``u_t = ∇·(u² ∇u)`` from a Barenblatt profile (peak 1, radius 0.3, closed walls) on the unit
interval or square, ``Δt = 1e-4``, ``r(u₁) = 0``, corrected from the persistence prediction
``μ = u₀``, in float64. Methods, all Newton's method on ``r``:

* ``global dense``: one expert, ``LocalHardConstraint((1,))``: ``N`` JVPs form the dense Jacobian,
  an ``O(N³)`` LU per iteration. At 128² (N = 16384) its Jacobian alone is 2.1 GB and one LU
  1.5 TFlop: skipped by design, with that estimate printed.
* ``global tridiagonal`` (1D): three coloured JVPs and LAPACK ``gtsv``, ``O(N)``, the strong
  sparse baseline (``neuralpde.solvers.tridiagonal``).
* ``global Newton-GMRES`` (2D): matrix-free, unpreconditioned restarted GMRES on the JVP, the
  strong sparse baseline where no sparse direct solver is at hand.
* ``mixture additive`` / ``mixture multiplicative``: ``LocalHardConstraint`` with tiles of
  ``--tile1d`` cells (1D) or ``--tile2d``² cells (2D), ``--sweeps`` additive (all experts at
  once) or multiplicative (colour by colour) Schwarz sweeps.

Reported: the compile time, the median wall time of ``--repeats`` calls after a warm-up call,
``max|r(u)| Δt / max|u₀|`` (the residual relative to the step's scale), the error
``max|u − u_ref| / max|u_ref|`` against the global solution (dense or sparse), and the time
of the dense global solve over the method's. Run ``python benchmarks/local_constraints.py
--help`` for the options.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
from _report import fmt, machine_load, print_table  # noqa: E402  (benchmarks/)
from jax import lax  # noqa: E402

from neuralpde.cell_grid import CellGrid  # noqa: E402
from neuralpde.constraints import LocalHardConstraint, PorousMediumResidual  # noqa: E402
from neuralpde.pde import Barenblatt, GeneralizedPorousMedium, NoFlux, PowerDiffusivity  # noqa: E402
from neuralpde.solvers.tridiagonal import tridiagonal_jacobian  # noqa: E402

DENSE_LIMIT = 4096  # unknowns: the dense global Jacobian of 128² would take 2.1 GB


def problem(shape, dt):
    grid = CellGrid((0.0,) * len(shape), (1.0,) * len(shape), shape)
    exact = Barenblatt.from_peak_and_radius(2.0, 1.0, 0.3, (0.5,) * len(shape), len(shape))
    pde = GeneralizedPorousMedium(grid, PowerDiffusivity(2.0), ((NoFlux(), NoFlux()),) * len(shape))
    return PorousMediumResidual(pde, dt), grid.cell_averages(exact, 0.0, jnp.float64)


def newton(residual, start, linear_solve, tol=1e-10, max_steps=20):
    """Global Newton on ``r`` with the step's solve ``linear_solve(u, r)``."""
    def step(carry):
        u, _, count = carry
        delta = linear_solve(u, residual(u))
        return u - delta, jnp.max(jnp.abs(delta)), count + 1

    def unfinished(carry):
        u, size, count = carry
        return (count < max_steps) & (size > tol * jnp.max(jnp.abs(u)))

    return lax.while_loop(unfinished, step, (start, jnp.inf, 0))[0]


def tridiagonal_global(residual, mu):
    def solve(u, r):
        _, linear = jax.linearize(residual, u)
        lower, diagonal, upper = tridiagonal_jacobian(linear, u)
        return lax.linalg.tridiagonal_solve(lower, diagonal, upper, r[:, None])[:, 0]
    return newton(residual, mu, solve)


def gmres_global(residual, mu):
    def solve(u, r):
        _, linear = jax.linearize(residual, u)
        def flat(v):
            return linear(v.reshape(u.shape)).ravel()
        x, _ = jax.scipy.sparse.linalg.gmres(flat, r.ravel(), tol=1e-12, atol=0.0, restart=30,
                                             maxiter=20)
        return x.reshape(u.shape)
    return newton(residual, mu, solve)


def methods(shape, args):
    tile = (args.tile1d,) if len(shape) == 1 else (args.tile2d,) * 2
    experts = tuple(n // t for n, t in zip(shape, tile, strict=True))
    found = {}
    if len(shape) == 1:
        found["global tridiagonal"] = ("-", tridiagonal_global)
    else:
        found["global Newton-GMRES"] = ("-", gmres_global)
    if args.dense or len(shape) == 1 or shape[0] * shape[1] <= DENSE_LIMIT:
        found["global dense"] = ("1", LocalHardConstraint((1,) * len(shape), sweeps=1))
    for schedule in ("additive", "multiplicative"):
        found[f"mixture {schedule}"] = (
            "x".join(map(str, experts)),
            LocalHardConstraint(experts, sweeps=args.sweeps, schedule=schedule))
    return found


def measure(method, residual, u0, repeats):
    run = jax.jit(lambda u0, mu: method(lambda u: residual(u0, u, 0.0), mu))
    start = time.perf_counter()
    compiled = run.lower(u0, u0).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    u = jax.block_until_ready(compiled(u0, u0))  # warm-up
    once = time.perf_counter() - start
    samples = [once] if once * repeats > 60 else []  # a slow method is timed once
    for _ in range(repeats if not samples else 0):
        start = time.perf_counter()
        u = jax.block_until_ready(compiled(u0, u0))
        samples.append(time.perf_counter() - start)
    return u, compile_seconds, statistics.median(samples)


def benchmark(shape, args):
    residual, u0 = problem(shape, args.dt)
    scale = float(jnp.max(jnp.abs(u0)))
    results = {}
    for name, (experts, method) in methods(shape, args).items():
        u, compile_seconds, seconds = measure(method, residual, u0, args.repeats)
        relative = float(jnp.max(jnp.abs(residual(u0, u, 0.0)))) * args.dt / scale
        results[name] = (experts, u, compile_seconds, seconds, relative)
    reference = results.get("global dense", results[next(iter(results))])[1]
    dense = results.get("global dense", (None,) * 4)[3]
    n = 1
    for size in shape:
        n *= size
    rows = []
    for name, (experts, u, compile_seconds, seconds, relative) in results.items():
        error = float(jnp.max(jnp.abs(u - reference)) / jnp.max(jnp.abs(reference)))
        rows.append(["x".join(map(str, shape)), name, experts, fmt(compile_seconds, 2),
                     fmt(1e3 * seconds), fmt(relative, 2), fmt(error, 2),
                     fmt(dense / seconds, 2) if dense else "-"])
    if "global dense" not in results:
        gigabytes = 8 * n * n / 1e9
        rows.append(["x".join(map(str, shape)), "global dense", "1", "-", "skipped", "-", "-",
                     f"({gigabytes:.1f} GB Jacobian, {n**3 / 3e12:.1f} TFlop LU per step)"])
    return rows


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1D 64, 256, 1024 and 2D 32², 64²")
    parser.add_argument("--sizes1d", type=int, nargs="*", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--sizes2d", type=int, nargs="*", default=[32, 64, 128])
    parser.add_argument("--tile1d", type=int, default=16, help="cells per expert in 1D")
    parser.add_argument("--tile2d", type=int, default=8, help="cells per expert and axis in 2D")
    parser.add_argument("--sweeps", type=int, default=8)
    parser.add_argument("--dt", type=float, default=1e-4)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls after warm-up")
    parser.add_argument("--dense", action="store_true",
                        help="also run the dense global solve beyond 4096 unknowns")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_arguments(argv)
    if args.quick:
        args.sizes1d, args.sizes2d, args.repeats = [64, 256, 1024], [32, 64], 3
    header = ["grid", "method", "experts", "compile s", "median ms", "rel. residual",
              "err vs global", "dense / this"]
    for sizes, dims in ((args.sizes1d, 1), (args.sizes2d, 2)):
        rows = [row for n in sizes for row in benchmark((n,) * dims, args)]
        stiffness = [f"{n}: {args.dt * n * n:.3g}" for n in sizes]  # h = 1/n per axis
        print_table(
            f"{dims}D porous medium (m = 2), one implicit step, Δt = {args.dt:g}", header, rows,
            [f"Δt max k / h² (per axis) per size: {', '.join(stiffness)}; {args.sweeps} sweeps; "
             f"tiles of {args.tile1d if dims == 1 else f'{args.tile2d}²'} cells",
             machine_load()])


if __name__ == "__main__":
    main()
