"""The porous-medium solver against exact solutions, with the convergence orders theory predicts.

Heat: a decaying Fourier mode, second order. Porous medium: the travelling front for m in {1, 3, 6}
(global L1 order about min(2, 1 + 1/m)), and the Barenblatt solution in 1D and 2D. Stefan: the
Neumann similarity solution, whose front position converges. All in float64, with time
tolerances far below the spatial error so that the spatial order shows.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neuralpde.cell_grid import CellGrid
from neuralpde.pde import (
    Barenblatt,
    ConstantDiffusivity,
    Dirichlet,
    GeneralizedPorousMedium,
    HeatMode,
    NoFlux,
    Periodic,
    PowerDiffusivity,
    StefanSimilarity,
    StepDiffusivity,
    TravellingFront,
    stefan_root,
)
from neuralpde.solvers import SolverOptions, solve_porous_medium

F64 = jnp.float64


def solve_batch(grid, make, parameters, t_end, method, rtol=1e-8, atol=1e-10):
    """Final numerical and exact cell averages for each parameter, ``(P, *space)`` each."""
    options = SolverOptions(method=method, rtol=rtol, atol=atol, max_steps=200_000)

    def one(p):
        pde, exact = make(grid, p)
        u0 = grid.cell_averages(exact, 0.0, F64)
        out = solve_porous_medium(pde, u0, jnp.array([0.0, t_end], F64), options)
        return out["u"][-1], grid.cell_averages(exact, t_end, F64)

    u, exact = jax.jit(jax.vmap(one))(jnp.asarray(parameters, F64))
    return np.asarray(u), np.asarray(exact)


def l1(a, b, grid):
    return np.sum(np.abs(a - b), axis=tuple(range(1, a.ndim))) * grid.cell_volume


def order(sizes, errors):
    """Least-squares slope of −log(error) against log(n), per column."""
    return -np.polyfit(np.log(sizes), np.log(np.asarray(errors)), 1)[0]


def heat_1d(grid, k):
    exact = HeatMode(k, (1.0,), (0.0,))
    sides = (Dirichlet(exact), Dirichlet(exact))
    return GeneralizedPorousMedium(grid, ConstantDiffusivity(k), (sides,)), exact


def heat_2d_periodic(grid, k):
    exact = HeatMode(k, (1.0, 2.0), (0.0, 0.0))
    return GeneralizedPorousMedium(grid, ConstantDiffusivity(k), (Periodic(), Periodic())), exact


def travelling_front(grid, m):
    exact = TravellingFront(m)
    sides = (Dirichlet(exact), Dirichlet(exact))
    return GeneralizedPorousMedium(grid, PowerDiffusivity(m), (sides,)), exact


def barenblatt(grid, m):
    exact = Barenblatt.from_peak_and_radius(m, 1.0, 0.3, (0.0,) * grid.ndim, grid.ndim)
    walls = ((NoFlux(), NoFlux()),) * grid.ndim
    return GeneralizedPorousMedium(grid, PowerDiffusivity(m), walls), exact


def stefan(grid, threshold):
    exact = StefanSimilarity(threshold)
    sides = (Dirichlet(exact), Dirichlet(exact))
    return GeneralizedPorousMedium(grid, StepDiffusivity(threshold), (sides,)), exact


def test_heat_mode_decays_at_second_order():
    sizes = [32, 64, 128]
    errors = []
    for n in sizes:
        grid = CellGrid((0.0,), (2 * np.pi,), (n,))
        u, exact = solve_batch(grid, heat_1d, [2.0], 0.5, "kvaerno5")
        errors.append(np.abs(u - exact).max(axis=1))
    assert order(sizes, errors)[0] == pytest.approx(2.0, abs=0.1)
    assert errors[-1][0] < 1e-4


def test_periodic_heat_mode_in_2d_at_second_order():
    sizes = [16, 32]
    errors = []
    for n in sizes:
        grid = CellGrid((0.0, 0.0), (2 * np.pi, 2 * np.pi), (n, n))
        u, exact = solve_batch(grid, heat_2d_periodic, [0.5], 0.5, "tsit5")
        errors.append(np.abs(u - exact).max(axis=(1, 2)))
    assert order(sizes, errors)[0] == pytest.approx(2.0, abs=0.15)


@pytest.mark.parametrize("method", ["ros4", "kvaerno5"])
def test_travelling_front_converges_at_the_porous_medium_order(method):
    exponents = [1.0, 3.0, 6.0]
    sizes = [64, 128, 256]
    errors = []
    for n in sizes:
        grid = CellGrid((0.0,), (1.0,), (n,))
        u, exact = solve_batch(grid, travelling_front, exponents, 0.5, method, 1e-7, 1e-9)
        errors.append(l1(u, exact, grid))
    expected = np.minimum(2.0, 1.0 + 1.0 / np.asarray(exponents))
    measured = order(sizes, errors)
    np.testing.assert_allclose(measured, expected, atol=0.15)
    assert np.all(errors[-1] < 3e-4)


@pytest.mark.parametrize("ndim, sizes, method", [(1, [64, 128, 256, 512], "tsit5"),
                                                (2, [32, 64], "tsit5")])
def test_barenblatt_converges_and_keeps_its_front(ndim, sizes, method):
    exponents = [1.0, 2.0]
    errors, fronts = [], []
    for n in sizes:
        grid = CellGrid((-1.0,) * ndim, (1.0,) * ndim, (n,) * ndim)
        u, exact = solve_batch(grid, barenblatt, exponents, 0.2, method, 1e-9, 1e-11)
        errors.append(l1(u, exact, grid))
        x = np.asarray(grid.points(F64))[..., 0]
        on_axis = x[(slice(None),) + (n // 2,) * (ndim - 1)] if ndim == 2 else x
        profile = u[(slice(None), slice(None)) + (n // 2,) * (ndim - 1)]
        fronts.append([on_axis[p > 1e-3].max() for p in profile])
    measured = order(sizes, errors)
    assert np.all(measured > 1.1), measured
    for m, front in zip(exponents, np.asarray(fronts).T, strict=True):
        exact_front = float(Barenblatt.from_peak_and_radius(
            jnp.asarray(m), 1.0, 0.3, (0.0,) * ndim, ndim).front_radius(0.2, ndim))
        spacing = 2.0 / np.asarray(sizes)
        assert np.all(np.abs(front - exact_front) < 2.5 * spacing), (m, front, exact_front)


def test_stefan_front_follows_the_similarity_solution():
    threshold = 0.6
    sizes = [64, 128, 256]
    front_errors = []
    for n in sizes:
        grid = CellGrid((0.0,), (1.0,), (n,))
        u, _ = solve_batch(grid, stefan, [threshold], 0.1, "kvaerno5", 1e-6, 1e-8)
        # Every cell behind the front holds u ≥ u*, none ahead any: ∫ min(u, u*)/u* dx = s(t).
        front = np.sum(np.minimum(u[0], threshold) / threshold) / n
        exact = float(StefanSimilarity(jnp.asarray(threshold)).front(0.1))
        front_errors.append(abs(front - exact))
    assert front_errors[-1] < front_errors[0] / 4
    assert front_errors[-1] < 1 / sizes[-1]


def test_stefan_root_solves_its_equation():
    threshold = jnp.asarray([0.55, 0.6, 0.7], F64)
    z = stefan_root(threshold)
    lhs = threshold * z * jax.scipy.special.erf(z) * jnp.exp(z**2)
    np.testing.assert_allclose(lhs, (1 - threshold) / np.sqrt(np.pi), rtol=1e-12)
