"""Benchmark of the generalized porous-medium solver against SciPy's method of lines.

Two cases, each generating a batch of trajectories in float64, as the ``gpme-*`` datasets do:

1. ``pme-1d``: ProbConserv's travelling front ``u = (m (t − x)⁺)^{1/m}`` on ``[0, 1]``, 256 cells,
   ``t ∈ [0, 1]``, 101 stored times, ``m`` a fixed uniform draw in ``[1, 6]``, Dirichlet data from
   the exact solution on both sides.
2. ``barenblatt-2d``: the Barenblatt solution ``Barenblatt.from_peak_and_radius(m, 1, 0.3, 0, 2)``
   on ``[−1, 1]²``, 64² cells, no-flux walls, ``t ∈ [0, 0.5]``, 101 stored times, ``m`` a fixed
   uniform draw in ``[1, 3]``.

Ours: ``solve_porous_medium`` per trajectory, ``jax.vmap`` over the batch, ``jax.jit`` around it
(compile time reported apart; median of ``--repeats`` calls after a warm-up call). The peer is
the straightforward method of lines: the same finite-volume right-hand side in NumPy (Kirchhoff
potential, Dirichlet faces half a cell from the centre) integrated by
``scipy.integrate.solve_ivp(method="BDF")`` with the Jacobian's sparsity pattern (tridiagonal in
1D, 5-point in 2D), trajectory after trajectory. SciPy may run on an evenly spaced subset of the
batch (``--scipy-trajectories``); its time is then scaled linearly to the whole batch, which the
output says. Errors: ``Σ |u(T) − ū(T)| |cell|`` against the cell averages ``ū`` of the exact
solution (the initial states are cell averages too), averaged over trajectories; ours also on
SciPy's subset, so that both are compared on the same trajectories.

Run ``python benchmarks/gpme_solver.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sparse  # noqa: E402
from _report import fmt, machine_load, print_table  # noqa: E402  (benchmarks/)
from scipy.integrate import solve_ivp  # noqa: E402

from neuralpde.cell_grid import CellGrid  # noqa: E402
from neuralpde.pde import (  # noqa: E402
    Barenblatt,
    Dirichlet,
    GeneralizedPorousMedium,
    NoFlux,
    PowerDiffusivity,
    TravellingFront,
)
from neuralpde.solvers import SolverOptions, solve_porous_medium  # noqa: E402
from neuralpde.solvers.porous_medium_solve import resolve_method  # noqa: E402

# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A family of trajectories: grid, horizon, exponents, and the equation for one exponent."""

    name: str
    grid: CellGrid
    t_end: float
    exponents: np.ndarray
    make: Callable  # exponent -> (GeneralizedPorousMedium, exact solution)

    @property
    def times(self) -> np.ndarray:
        return np.linspace(0.0, self.t_end, 101)

    def averages(self, m, t) -> jax.Array:
        """Cell averages of the exact solution for exponent ``m`` at time ``t``."""
        _, exact = self.make(jnp.asarray(m, jnp.float64))
        return self.grid.cell_averages(exact, jnp.asarray(t, jnp.float64), jnp.float64)


def travelling_front_case(n: int, batch: int, seed: int) -> Case:
    grid = CellGrid((0.0,), (1.0,), (n,))

    def make(m):
        exact = TravellingFront(m)
        sides = (Dirichlet(exact), Dirichlet(exact))
        return GeneralizedPorousMedium(grid, PowerDiffusivity(m), (sides,)), exact

    exponents = np.random.default_rng(seed).uniform(1.0, 6.0, batch)
    return Case("pme-1d", grid, 1.0, exponents, make)


def barenblatt_case(n: int, batch: int, seed: int) -> Case:
    grid = CellGrid((-1.0, -1.0), (1.0, 1.0), (n, n))

    def make(m):
        exact = Barenblatt.from_peak_and_radius(m, 1.0, 0.3, (0.0, 0.0), 2)
        walls = ((NoFlux(), NoFlux()),) * 2
        return GeneralizedPorousMedium(grid, PowerDiffusivity(m), walls), exact

    exponents = np.random.default_rng(seed).uniform(1.0, 3.0, batch)
    return Case("barenblatt-2d", grid, 0.5, exponents, make)


# --------------------------------------------------------------------------------------------
# Ours
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    case: str
    solver: str
    method: str
    rtol: float
    atol: float
    trajectories_timed: int
    trajectories_total: int
    compile_seconds: float | None
    median_seconds: float  # for the whole batch (scaled if fewer were timed)
    runs: int
    max_steps: int | None
    mean_steps: float | None
    errors: list[float]  # per timed trajectory
    balance: float | None  # max |mass − mass₀ − accumulated inflow| over trajectories and frames
    subset_error: float | None = None  # ours on SciPy's subset

    @property
    def mean_error(self) -> float:
        return float(np.mean(self.errors))


def run_ours(case: Case, method: str, rtol: float, atol: float, repeats: int) -> Result:
    """Compile, warm up and time ``solve_porous_medium`` vmapped over the case's batch."""
    options = SolverOptions(method=method, rtol=rtol, atol=atol, max_steps=100_000)
    times = jnp.asarray(case.times)
    grid = case.grid

    def one(m):
        pde, exact = case.make(m)
        u0 = grid.cell_averages(exact, jnp.zeros((), jnp.float64), jnp.float64)
        out = solve_porous_medium(pde, u0, times, options)
        reference = grid.cell_averages(exact, times[-1], jnp.float64)
        error = jnp.sum(jnp.abs(out["u"][-1] - reference)) * grid.cell_volume
        inflow = jnp.cumsum(jnp.sum(out["boundary_flux"], axis=1))
        balance = jnp.max(jnp.abs(out["mass"] - out["mass"][0] - inflow))
        return error, out["steps"], balance

    exponents = jnp.asarray(case.exponents)
    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(one)).lower(exponents).compile()
    compile_seconds = time.perf_counter() - start
    out = jax.block_until_ready(compiled(exponents))  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(exponents))
        samples.append(time.perf_counter() - start)
    errors, steps, balance = (np.asarray(x) for x in out)
    pde, _ = case.make(jnp.asarray(case.exponents[0]))
    return Result(case.name, "neuralpde", resolve_method(method, pde), rtol, atol,
                  len(exponents), len(exponents), compile_seconds, statistics.median(samples),
                  repeats, int(steps.max()), float(steps.mean()), errors.tolist(),
                  float(balance.max()))


# --------------------------------------------------------------------------------------------
# SciPy: the method of lines with solve_ivp(BDF)
# --------------------------------------------------------------------------------------------


def scipy_right_hand_side(case: Case, m: float) -> tuple[Callable, sparse.spmatrix]:
    """The finite-volume right-hand side of ``case`` in NumPy and its Jacobian's sparsity."""
    grid = case.grid

    def potential(u):
        return np.maximum(u, 0.0) ** (m + 1) / (m + 1)

    if grid.ndim == 1:
        (n,), (h,) = grid.shape, grid.spacing
        low, high = grid.lower[0], grid.upper[0]

        def boundary(t, x):  # the exact solution on a face
            return (m * max(t - x, 0.0)) ** (1 / m)

        def rhs(t, u):
            phi = potential(u)
            flux = np.empty(n + 1)  # F_{i−½}, positive to the right
            flux[1:-1] = -(phi[1:] - phi[:-1]) / h
            flux[0] = -(phi[0] - potential(boundary(t, low))) * 2 / h
            flux[-1] = -(potential(boundary(t, high)) - phi[-1]) * 2 / h
            return -(flux[1:] - flux[:-1]) / h

        pattern = sparse.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(n, n))
        return rhs, pattern.tocsc()

    (nx, ny), (hx, hy) = grid.shape, grid.spacing

    def rhs_2d(t, y):  # no-flux walls: only interior faces carry flux
        phi = potential(y.reshape(nx, ny))
        du = np.zeros_like(phi)
        fx = (phi[1:, :] - phi[:-1, :]) / hx**2
        du[:-1, :] += fx
        du[1:, :] -= fx
        fy = (phi[:, 1:] - phi[:, :-1]) / hy**2
        du[:, :-1] += fy
        du[:, 1:] -= fy
        return du.ravel()

    def line(k):
        return sparse.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(k, k))

    pattern = sparse.kron(line(nx), sparse.identity(ny)) + sparse.kron(sparse.identity(nx),
                                                                       line(ny))
    return rhs_2d, pattern.tocsc()


def run_scipy(case: Case, rtol: float, atol: float, repeats: int, count: int) -> tuple[
        Result, list[int]]:
    """Time ``solve_ivp(BDF)`` over an evenly spaced subset of ``count`` trajectories."""
    total = len(case.exponents)
    subset = np.unique(np.linspace(0, total - 1, min(count, total)).round().astype(int))
    problems = []
    for index in subset:
        m = float(case.exponents[index])
        rhs, pattern = scipy_right_hand_side(case, m)
        u0 = np.asarray(case.averages(m, 0.0)).ravel()
        reference = np.asarray(case.averages(m, case.t_end)).ravel()
        problems.append((rhs, pattern, u0, reference))
    samples, errors, steps = [], [], []
    for _ in range(repeats):
        errors, steps = [], []
        start = time.perf_counter()
        for rhs, pattern, u0, reference in problems:
            solution = solve_ivp(rhs, (0.0, case.t_end), u0, method="BDF", rtol=rtol, atol=atol,
                                 jac_sparsity=pattern, t_eval=case.times)
            errors.append(float(np.sum(np.abs(solution.y[:, -1] - reference))
                                * case.grid.cell_volume))
            steps.append(int(solution.nfev))
        samples.append(time.perf_counter() - start)
    scaled = statistics.median(samples) * total / len(subset)
    result = Result(case.name, f"SciPy {scipy.__version__}", "solve_ivp BDF", rtol, atol,
                    len(subset), total, None, scaled, repeats, None, float(np.mean(steps)),
                    errors, None)
    return result, subset.tolist()


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def report(case: Case, ours: list[Result], peer: Result | None, subset: list[int]) -> None:
    rows = []
    for result in ours + ([peer] if peer else []):
        ratio = "-" if peer is None or result is peer else fmt(
            peer.median_seconds / result.median_seconds)
        rows.append([
            result.solver, result.method, f"{result.rtol:g}/{result.atol:g}",
            f"{result.trajectories_timed}/{result.trajectories_total}",
            fmt(result.compile_seconds, 2), fmt(result.median_seconds),
            fmt(1e3 * result.median_seconds / result.trajectories_total),
            "-" if result.max_steps is None else result.max_steps,
            fmt(result.mean_error), fmt(result.subset_error),
            fmt(result.balance, 2), ratio,
        ])
    grid = case.grid
    notes = [
        f"{len(case.exponents)} trajectories, m ∈ [{case.exponents.min():.2f}, "
        f"{case.exponents.max():.2f}], {'×'.join(map(str, grid.shape))} cells, t ∈ [0, "
        f"{case.t_end:g}], 101 stored times, float64.",
        "wall s: median after warm-up for the whole batch; compile apart. L1: Σ|u − ū_exact| "
        "|cell| at the final time, mean over trajectories; 'L1 subset': ours on SciPy's "
        "trajectories. balance: max |mass − mass₀ − recorded inflow|. × SciPy: SciPy's wall "
        "time over ours.",
        "max steps: the batch's longest trajectory (vmap runs every member that long); for "
        "SciPy the column 'ms/traj' is per trajectory of its serial loop.",
    ]
    if peer is not None and peer.trajectories_timed < peer.trajectories_total:
        notes.append(f"SciPy timed on {peer.trajectories_timed} of {peer.trajectories_total} "
                     f"trajectories (indices {subset}) and scaled linearly to "
                     f"{peer.trajectories_total}; SciPy's mean f-evaluations per trajectory: "
                     f"{peer.mean_steps:.0f}.")
    notes.append(f"During this case: {machine_load()}.")
    print_table(f"{case.name}: {len(case.exponents)} trajectories", [
        "solver", "method", "rtol/atol", "traj", "compile s", "wall s", "ms/traj", "max steps",
        "L1", "L1 subset", "balance", "× SciPy"], rows, notes)


CONFIGURATIONS = {
    # (method, rtol, atol) for ours; the first is the datasets' tolerance.
    "pme-1d": [("auto", 1e-4, 1e-6), ("ros3", 1e-2, 1e-4)],
    "barenblatt-2d": [("auto", 1e-4, 1e-6), ("auto", 1e-3, 1e-5)],
}


# The defaults before the Rosenbrock and RKC methods, for --with-previous.
PREVIOUS = {"pme-1d": [("kvaerno5", 1e-3, 1e-5)], "barenblatt-2d": [("tsit5", 1e-4, 1e-6)]}


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=tuple(CONFIGURATIONS),
                        default=list(CONFIGURATIONS))
    parser.add_argument("--trajectories", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after warm-up")
    parser.add_argument("--scipy-trajectories", type=int, default=8,
                        help="SciPy solves this evenly spaced subset and scales linearly")
    parser.add_argument("--scipy-repeats", type=int, default=1,
                        help="timed passes over SciPy's subset (no compile to warm up)")
    parser.add_argument("--scipy-rtol", type=float, default=1e-4)
    parser.add_argument("--scipy-atol", type=float, default=1e-6)
    parser.add_argument("--no-scipy", action="store_true")
    parser.add_argument("--with-previous", action="store_true",
                        help="also time the former defaults: kvaerno5 in 1D (~6 s), tsit5 in 2D "
                        "(~6 s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the exponent draw")
    parser.add_argument("--n1d", type=int, default=256)
    parser.add_argument("--n2d", type=int, default=64)
    parser.add_argument("--json", type=Path, help="also write all results to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    print(f"# gpme solver benchmark: jax {jax.__version__}, {jax.devices()[0].platform} × "
          f"{len(jax.devices())}, scipy {scipy.__version__}, {os.cpu_count()} cores; "
          f"{machine_load()}")
    builders = {"pme-1d": lambda: travelling_front_case(arguments.n1d, arguments.trajectories,
                                                        arguments.seed),
                "barenblatt-2d": lambda: barenblatt_case(arguments.n2d, arguments.trajectories,
                                                         arguments.seed)}
    everything = []
    for name in arguments.cases:
        case = builders[name]()
        configurations = list(CONFIGURATIONS[name])
        if arguments.with_previous:
            configurations += PREVIOUS[name]
        ours = [run_ours(case, method, rtol, atol, arguments.repeats)
                for method, rtol, atol in configurations]
        peer, subset = None, []
        if not arguments.no_scipy:
            peer, subset = run_scipy(case, arguments.scipy_rtol, arguments.scipy_atol,
                                     arguments.scipy_repeats, arguments.scipy_trajectories)
            for result in ours:
                result.subset_error = float(np.mean(np.asarray(result.errors)[subset]))
        report(case, ours, peer, subset)
        everything += [asdict(r) for r in ours + ([peer] if peer else [])]
    if arguments.json:
        arguments.json.write_text(json.dumps(everything, indent=2))


if __name__ == "__main__":
    main()
