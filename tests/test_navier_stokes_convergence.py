"""Empirical convergence in time and space, and the energy/enstrophy budgets (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neuralpde.grid import PeriodicGrid2D
from neuralpde.pde import NavierStokes2D, kolmogorov_forcing
from neuralpde.solvers import STEPPERS, repeat, rollout


def smooth_vorticity(grid):
    x, y = grid.coordinates(jnp.float64)
    return jnp.sin(x) * jnp.cos(2 * y) + 0.8 * jnp.cos(3 * x + y) + 0.5 * jnp.sin(x - 2 * y)


def solve(stepper_name, grid, w0, t_end, n_steps, nu=0.05, alpha=0.0, forcing=None):
    pde = NavierStokes2D(grid, nu, alpha, forcing, jnp.float64)
    step = STEPPERS[stepper_name](pde, t_end / n_steps)
    return grid.to_physical(jax.jit(repeat(step, n_steps))(grid.to_spectral(w0)))


@pytest.mark.parametrize(
    "stepper, step_counts",
    [
        ("fno_crank_nicolson", (32, 64, 128, 256)),
        ("etdrk2", (16, 32, 64, 128)),
        ("etdrk4", (8, 16, 32, 64)),
    ],
)
def test_temporal_order(stepper, step_counts):
    """Fitted slope of log error against log dt equals the declared order within ±0.2."""
    grid = PeriodicGrid2D(32, 2 * np.pi)
    w0, t_end = smooth_vorticity(grid), 1.0
    forcing = kolmogorov_forcing(grid, 2, 0.5, jnp.float64)
    reference = solve("etdrk4", grid, w0, t_end, 2048, alpha=0.1, forcing=forcing)
    errors = [
        float(jnp.linalg.norm(solve(stepper, grid, w0, t_end, n, alpha=0.1, forcing=forcing)
                              - reference))
        for n in step_counts
    ]
    slope = np.polyfit(np.log(t_end / np.array(step_counts)), np.log(errors), 1)[0]
    assert abs(slope - STEPPERS[stepper].order) <= 0.2, (slope, errors)


def test_spatial_error_decays_exponentially():
    """For an analytic initial field, error falls geometrically with n (spectral accuracy)."""
    reference_grid = PeriodicGrid2D(128, 2 * np.pi)

    def initial(grid):
        x, y = grid.coordinates(jnp.float64)
        return 2.0 * jnp.exp(jnp.sin(x) + 0.5 * jnp.cos(y)) - 2.0 * jnp.exp(0.5 * jnp.cos(y))

    t_end, n_steps = 0.5, 200
    reference_hat = reference_grid.to_spectral(
        solve("etdrk4", reference_grid, initial(reference_grid), t_end, n_steps, nu=0.1)
    )
    errors = []
    # Multiples of 6, so that each size keeps two more dealiased modes than the last.
    sizes = (12, 18, 24, 30, 36, 42)
    for n in sizes:
        grid = PeriodicGrid2D(n, 2 * np.pi)
        truth = grid.to_physical(reference_grid.truncate(reference_hat, n))
        errors.append(float(jnp.max(jnp.abs(solve("etdrk4", grid, initial(grid), t_end,
                                                         n_steps, nu=0.1) - truth))))
    gains = -np.diff(np.log(errors))
    # Geometric decay gains a constant factor per step in n; an algebraic rate n^-p would gain
    # p·log((n+6)/n), which shrinks 2.6-fold from the first step to the last.
    assert np.all(gains > np.log(10)), errors
    assert gains[-1] > 0.9 * gains[0], errors
    assert errors[-1] < 1e-7, errors


def test_energy_and_enstrophy_budget():
    """dE/dt = −2νZ − 2αE + ⟨ψ f⟩, and ⟨ω⟩ stays zero to round-off, from a forced nonlinear run.

    dE/dt is the centred difference of the stored energy; its O(Δt²) error sets the tolerance.
    """
    grid = PeriodicGrid2D(64, 2 * np.pi)
    nu, alpha, dt = 0.02, 0.1, 1e-3
    f = kolmogorov_forcing(grid, 2, 1.0, jnp.float64)
    pde = NavierStokes2D(grid, nu, alpha, f, jnp.float64)
    step = STEPPERS["etdrk4"](pde, dt)

    def observe(w_hat):
        psi_hat = pde.stream_function(w_hat)
        return jnp.stack([
            0.5 * grid.mean_product(w_hat, psi_hat),
            0.5 * grid.mean_product(w_hat, w_hat),
            grid.mean_product(psi_hat, pde.forcing_hat),
            jnp.real(w_hat[0, 0]) / grid.n**2,
        ])

    series = jax.jit(rollout(step, 400, include_init=True, observe=observe))(
        grid.to_spectral(smooth_vorticity(grid))
    )
    energy, enstrophy, injection, mean = np.asarray(series).T
    d_energy = (energy[2:] - energy[:-2]) / (2 * dt)
    budget = -2 * nu * enstrophy[1:-1] - 2 * alpha * energy[1:-1] + injection[1:-1]
    assert np.max(np.abs(d_energy - budget)) < 1e-5 * np.max(np.abs(d_energy))
    assert np.max(np.abs(mean)) < 1e-14
    assert np.max(np.abs(d_energy)) > 0.1  # the budget is not trivially balanced


@pytest.mark.parametrize("stepper", sorted(STEPPERS))
def test_unforced_step_never_adds_energy(stepper):
    grid = PeriodicGrid2D(32, 2 * np.pi)
    pde = NavierStokes2D(grid, 0.01, 0.0, None, jnp.float64)
    step = STEPPERS[stepper](pde, 0.01)

    def energy(w_hat):
        return 0.5 * grid.mean_product(w_hat, pde.stream_function(w_hat))

    energies = jax.jit(rollout(step, 300, include_init=True, observe=energy))(
        grid.to_spectral(smooth_vorticity(grid))
    )
    assert np.all(np.diff(np.asarray(energies)) <= 1e-15)
