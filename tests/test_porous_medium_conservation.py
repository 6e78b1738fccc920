"""Discrete mass balance of the porous-medium solver, Kirchhoff potentials, and bad input.

Closed boxes keep the mass to round-off; open ones change it by exactly the recorded boundary
inflow. Both hold for explicit and implicit methods because Runge–Kutta methods keep the linear
invariant "mass minus accumulated inflow" of the packed state.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neuralpde.cell_grid import CellGrid
from neuralpde.pde import (
    CallableDiffusivity,
    Dirichlet,
    GeneralizedPorousMedium,
    Neumann,
    NoFlux,
    Periodic,
    PowerDiffusivity,
    StepDiffusivity,
)
from neuralpde.solvers import SolverOptions, solve_porous_medium

F64 = jnp.float64


def bump(grid, seed=0):
    """A positive random smooth-ish field."""
    noise = jax.random.uniform(jax.random.key(seed), grid.shape, F64)
    return 0.2 + noise


@pytest.mark.parametrize("method", ["tsit5", "kvaerno5"])
def test_closed_box_conserves_mass_to_round_off(method):
    grid = CellGrid((0.0,), (1.0,), (64,))
    pde = GeneralizedPorousMedium(grid, PowerDiffusivity(jnp.asarray(2.0)),
                                  ((NoFlux(), NoFlux()),))
    u0 = bump(grid)
    out = solve_porous_medium(pde, u0, jnp.linspace(0, 0.01, 5),
                              SolverOptions(method=method, rtol=1e-6, atol=1e-8))
    mass = np.asarray(out["mass"])
    assert np.max(np.abs(mass - mass[0])) < 1e-14 * mass[0]
    assert np.all(np.asarray(out["boundary_flux"]) == 0)


def test_closed_2d_box_and_periodic_axis_conserve_mass():
    grid = CellGrid((0.0, 0.0), (1.0, 2.0), (16, 24))
    pde = GeneralizedPorousMedium(grid, PowerDiffusivity(jnp.asarray(1.5)),
                                  (Periodic(), (NoFlux(), NoFlux())))
    out = solve_porous_medium(pde, bump(grid), jnp.linspace(0, 0.005, 3),
                              SolverOptions(method="tsit5", rtol=1e-6, atol=1e-8))
    mass = np.asarray(out["mass"])
    assert np.max(np.abs(mass - mass[0])) < 1e-14 * mass[0]


@pytest.mark.parametrize("method", ["tsit5", "kvaerno5"])
def test_open_boundaries_change_mass_by_exactly_the_recorded_inflow(method):
    grid = CellGrid((0.0,), (1.0,), (48,))
    inflow = lambda t, x: 1.0 + jnp.sin(20 * t)  # noqa: E731
    dirichlet = lambda t, x: 0.5 + 0.5 * t  # noqa: E731
    pde = GeneralizedPorousMedium(grid, StepDiffusivity(jnp.asarray(0.4), 2.0, 0.1, 0.05),
                                  ((Neumann(inflow), Dirichlet(dirichlet)),))
    times = jnp.linspace(0, 0.05, 6)
    out = solve_porous_medium(pde, bump(grid), times,
                              SolverOptions(method=method, rtol=1e-6, atol=1e-8))
    mass, flux = np.asarray(out["mass"]), np.asarray(out["boundary_flux"])
    assert np.max(np.abs(mass - mass[0] - np.cumsum(flux.sum(axis=1)))) < 1e-13
    # The Neumann side's record is the integral of the prescribed inflow, to the tolerance.
    t = np.asarray(times)
    integral = np.diff(t + (1 - np.cos(20 * t)) / 20, prepend=0.0)
    np.testing.assert_allclose(flux[1:, 0], integral[1:], rtol=1e-5)


def test_kirchhoff_potentials_integrate_their_diffusivities():
    u = jnp.linspace(0.01, 1.5, 41, dtype=F64)
    diffusivities = [
        PowerDiffusivity(jnp.asarray(2.5)),
        StepDiffusivity(jnp.asarray(0.6), 2.0, 0.5, 0.05),
        CallableDiffusivity(lambda v: 1 + v**2 + v**3),
    ]
    for k in diffusivities:
        derivative = jax.vmap(jax.grad(k.potential))(u)
        np.testing.assert_allclose(derivative, k(u), rtol=1e-10, atol=1e-12)
        assert float(k.potential(jnp.zeros((), F64))) == pytest.approx(0.0, abs=1e-14)


def test_sharp_stefan_potential_is_the_enthalpy_temperature():
    k = StepDiffusivity(jnp.asarray(0.6), 1.0, 0.0)
    u = jnp.asarray([0.0, 0.3, 0.6, 0.8, 1.0], F64)
    np.testing.assert_allclose(k.potential(u), [0, 0, 0, 0.2, 0.4], atol=1e-15)


def test_bad_input_is_refused_with_a_clear_message():
    grid = CellGrid((0.0,), (1.0,), (16,))
    with pytest.raises(ValueError, match="exponent m must be >= 0"):
        PowerDiffusivity(jnp.asarray(-1.0))
    pde = GeneralizedPorousMedium(grid, PowerDiffusivity(jnp.asarray(2.0)),
                                  ((NoFlux(), NoFlux()),))
    negative = jnp.linspace(-0.1, 1.0, 16, dtype=F64)
    with pytest.raises(ValueError, match="needs u >= 0"):
        solve_porous_medium(pde, negative, jnp.linspace(0, 0.01, 2))
    with pytest.raises(ValueError, match="shape"):
        solve_porous_medium(pde, jnp.ones(8, F64), jnp.linspace(0, 0.01, 2))
    with pytest.raises(ValueError, match="periodic on one side only"):
        GeneralizedPorousMedium(grid, PowerDiffusivity(jnp.asarray(2.0)),
                                ((Periodic(), NoFlux()),))
    with pytest.raises(ValueError, match="boundary conditions for 1 axes"):
        GeneralizedPorousMedium(grid, PowerDiffusivity(jnp.asarray(2.0)),
                                ((NoFlux(), NoFlux()), Periodic()))


def test_step_budget_exhaustion_marks_the_frames_not_reached():
    grid = CellGrid((0.0,), (1.0,), (64,))
    pde = GeneralizedPorousMedium(grid, PowerDiffusivity(jnp.asarray(3.0)),
                                  ((Dirichlet(1.0), NoFlux()),))
    out = solve_porous_medium(pde, jnp.zeros(64, F64), jnp.linspace(0, 1.0, 5),
                              SolverOptions(method="tsit5", max_steps=50))
    finite = np.asarray(out["finite"])
    assert finite[0] and not finite[-1]


@pytest.mark.parametrize("method", ["tsit5", "auto", "kvaerno5"])
def test_a_dry_state_wetted_through_a_boundary_is_solved(method):
    grid = CellGrid((0.0,), (1.0,), (64,))
    pde = GeneralizedPorousMedium(grid, PowerDiffusivity(jnp.asarray(3.0)),
                                  ((Dirichlet(1.0), NoFlux()),))
    out = solve_porous_medium(pde, jnp.zeros(64, F64), jnp.linspace(0, 0.1, 3),
                              SolverOptions(method=method, rtol=1e-4, atol=1e-6))
    mass, flux = np.asarray(out["mass"]), np.asarray(out["boundary_flux"])
    assert np.all(np.asarray(out["finite"]))
    assert mass[-1] > 0.1 and abs(mass[-1] - flux.sum()) < 1e-13
