"""CFL-adaptive time steps: the φ-function coefficients, the step rule, its order, generation."""

import decimal

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import tiny_recipe
from test_navier_stokes_convergence import smooth_vorticity

from neuralpde.config import ConfigError
from neuralpde.datagen import BlowUpError, generate, split_file
from neuralpde.datagen.keys import trajectory_key
from neuralpde.datagen.navier_stokes import simulate_trajectory
from neuralpde.datagen.navier_stokes_recipe import EnergySpectrumField, Splits
from neuralpde.grid import PeriodicGrid2D
from neuralpde.io import TrajectoryFile, validate
from neuralpde.pde import NavierStokes2D, kolmogorov_forcing
from neuralpde.solvers import STEPPERS, CFLAdaptiveInterval, repeat
from neuralpde.solvers._phi import etdrk4_weights, half_step_phi1, phi1, phi2

# z = hL across the range of real symbols met in practice, both signs, and near zero.
Z = np.concatenate([-np.logspace(-9, 3, 97), np.logspace(-9, 1, 41), [0.0]])


def exact_coefficients(z: float) -> list[float]:
    """φ₁, φ₂, φ₁(z/2)/2 and the ETDRK4 weights f₁, f₂, f₃ from their closed forms at 80 digits."""
    with decimal.localcontext() as context:
        context.prec = 80
        s = decimal.Decimal(z)
        if s == 0:
            return [1.0, 0.5, 0.5, 1 / 6, 1 / 6, 1 / 6]
        e, e_half = s.exp(), (s / 2).exp()
        values = [
            (e - 1) / s,
            (e - 1 - s) / s**2,
            (e_half - 1) / s,
            (-4 - s + e * (4 - 3 * s + s * s)) / s**3,
            (2 + s + e * (s - 2)) / s**3,
            (-4 - 3 * s - s * s + e * (4 - s)) / s**3,
        ]
        return [float(v) for v in values]


def ours(z, dtype):
    z = jnp.asarray(z, dtype)
    return [np.asarray(c, np.float64) for c in (phi1(z), phi2(z), half_step_phi1(z),
                                                *etdrk4_weights(z))]


@pytest.mark.parametrize("dtype, tolerance", [(jnp.float64, 1e-13), (jnp.float32, 1e-5)])
def test_phi_functions_match_80_digit_values(dtype, tolerance):
    """Error relative to the function's size near z (its value, or its scale 1/|z|^k far out,
    which covers f₁'s sign change near z = −2.7) stays at the dtype's round-off."""
    exact = np.array([exact_coefficients(z) for z in Z]).T
    powers = (1, 2, 1, 2, 2, 2)  # far from 0 each function decays like |z|^-power
    for name, value, reference, power in zip(
        ("φ1", "φ2", "φ1(z/2)/2", "f1", "f2", "f3"), ours(Z, dtype), exact, powers, strict=True
    ):
        far = np.abs(np.where(Z == 0, 1, Z)) ** -power
        scale = np.maximum(np.abs(reference), np.minimum(1 / 6, far))
        error = np.max(np.abs(value - reference) / scale)
        assert error < tolerance, (name, error)


def test_coefficients_from_a_traced_step_equal_those_from_a_number():
    grid = PeriodicGrid2D(16, 2 * np.pi)
    pde = NavierStokes2D(grid, 0.05, 0.1, None, jnp.float64)
    for name, stepper in STEPPERS.items():
        fixed = stepper(pde, 0.125)
        traced = jax.jit(lambda h, s=stepper: s(pde, h))(jnp.float64(0.125))
        for a, b in zip(jax.tree.leaves(fixed), jax.tree.leaves(traced), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-15, atol=0, err_msg=name)


def adaptive_interval(pde, grid, courant, interval=0.25, max_dt=0.25, stepper="etdrk4"):
    return CFLAdaptiveInterval(STEPPERS[stepper], pde, interval, max_dt, courant, grid.dx)


def test_number_of_steps_is_the_fewest_that_meet_the_cfl_condition():
    grid = PeriodicGrid2D(32, 2 * np.pi)
    pde = NavierStokes2D(grid, 0.01, 0.0, None, jnp.float64)
    rule = adaptive_interval(pde, grid, courant=0.7, interval=0.5, max_dt=0.1)
    speeds = np.concatenate([np.geomspace(1e-3, 300, 200), [0.0]])
    steps = np.asarray(jax.vmap(rule.number_of_steps)(jnp.asarray(speeds)))
    assert rule.min_steps == 5 and rule.max_steps == 320
    courant = speeds * (0.5 / steps) / grid.dx
    inside = (steps > rule.min_steps) & (steps < rule.max_steps)
    assert np.all(courant[steps < rule.max_steps] <= 0.7 + 1e-12)
    assert inside.sum() > 50 and np.all(speeds[inside] * (0.5 / (steps[inside] - 1)) / grid.dx
                                          > 0.7)
    assert np.all(steps >= 5) and np.all(steps <= 320) and steps[-1] == 5
    for bad in (np.nan, np.inf):
        assert int(rule.number_of_steps(jnp.float64(bad))) == 5


@pytest.mark.parametrize("stepper", ["etdrk2", "etdrk4"])
def test_order_in_the_courant_number(stepper):
    """Four intervals with steps chosen by CFL: the error falls as h^order (slope ±0.2) as C
    shrinks."""
    grid = PeriodicGrid2D(32, 2 * np.pi)
    forcing = kolmogorov_forcing(grid, 2, 0.5, jnp.float64)
    pde = NavierStokes2D(grid, 0.05, 0.1, forcing, jnp.float64)
    w0_hat = grid.to_spectral(smooth_vorticity(grid))
    reference = jax.jit(repeat(STEPPERS["etdrk4"](pde, 1 / 2048), 2048))(w0_hat)

    @jax.jit
    def solve(courant):
        interval = adaptive_interval(pde, grid, courant, stepper=stepper)

        def advance(state, _):
            state, h = interval(state)
            return state, h

        return jax.lax.scan(advance, w0_hat, length=4)

    courants = np.array([0.4, 0.2, 0.1, 0.05]) / (1 if stepper == "etdrk4" else 2)
    errors, steps = [], []
    for courant in courants:
        w_hat, h = solve(courant)
        errors.append(float(jnp.linalg.norm(w_hat - reference) / jnp.linalg.norm(reference)))
        steps.append(float(jnp.mean(h)))
    # m = ⌈…/C⌉ rounds h below its proportional value, most for the largest C: regress on h.
    assert np.all(np.diff(steps) < 0)
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert abs(slope - STEPPERS[stepper].order) <= 0.2, (slope, errors)


def test_long_step_bound_gives_the_fixed_step_solution():
    """Where dt_max binds in every interval, CFL stepping is fixed-dt stepping."""
    grid = PeriodicGrid2D(32, 2 * np.pi)
    pde = NavierStokes2D(grid, 0.05, 0.0, None, jnp.float64)
    w0_hat = grid.to_spectral(smooth_vorticity(grid))
    interval = adaptive_interval(pde, grid, courant=1e6, interval=0.5, max_dt=0.05)
    adaptive = jax.jit(lambda w: jax.lax.fori_loop(0, 2, lambda _, s: interval(s)[0], w))(w0_hat)
    fixed = jax.jit(repeat(STEPPERS["etdrk4"](pde, 0.05), 20))(w0_hat)
    np.testing.assert_allclose(adaptive, fixed, rtol=0, atol=1e-14 * float(jnp.abs(fixed).max()))


def cfl_recipe(**changes):
    return tiny_recipe(**{"courant": 0.1, "dt": 0.1, "splits": Splits(train=5), **changes})


def test_generation_with_cfl_steps_records_them_and_matches_single_trajectories(tmp_path):
    """Each trajectory in a sharded, vmapped chunk takes the steps it takes alone, and the file
    records them: h = Δ/m, never above dt, and below it where the CFL condition binds."""
    recipe = cfl_recipe()
    generate(recipe, tmp_path, progress=False, vectorize=True)
    assert validate(tmp_path / recipe.name)
    with TrajectoryFile(split_file(tmp_path, recipe, "train")) as f:
        fields, time_step = f.fields(), f.scalar("time_step")
    steps = recipe.store_interval / time_step
    np.testing.assert_allclose(steps, np.round(steps), rtol=1e-6)
    assert np.all(time_step <= recipe.dt * (1 + 1e-6)) and np.any(time_step < 0.9 * recipe.dt)
    alone = jax.jit(lambda key: simulate_trajectory(recipe, key))
    for index in (0, 3):
        frames = alone(trajectory_key(recipe.seed, 0, index))
        np.testing.assert_array_equal(frames["time_step"], time_step[index])
        np.testing.assert_allclose(frames["vorticity"], fields[index, ..., 0], rtol=0,
                                   atol=1e-5 * np.abs(fields[index]).max())


def test_cfl_steps_are_the_same_on_one_and_four_devices(tmp_path):
    recipe = cfl_recipe(burn_in=0.3, splits=Splits(train=6))
    generate(recipe, tmp_path / "four", progress=False)
    generate(recipe, tmp_path / "one", devices=jax.devices()[:1], progress=False)
    with TrajectoryFile(split_file(tmp_path / "four", recipe, "train")) as a, \
            TrajectoryFile(split_file(tmp_path / "one", recipe, "train")) as b:
        np.testing.assert_array_equal(a.fields(), b.fields())
        np.testing.assert_array_equal(a.scalar("time_step"), b.scalar("time_step"))


def test_blow_up_under_cfl_steps_is_reported_without_hanging(tmp_path):
    recipe = tiny_recipe(courant=0.5, dt=0.05, cfl_max=1e30, viscosity=1e-3, splits=Splits(2),
                         initial_condition=EnergySpectrumField(energy=1e4))
    with pytest.raises(BlowUpError, match=r"trajectory \d+ at t=[\d.]+: (NaN or Inf|CFL)"):
        generate(recipe, tmp_path, progress=False)


@pytest.mark.parametrize("courant", [0.0, -1.0, 1.5])
def test_courant_number_out_of_range_is_refused(courant):
    with pytest.raises(ConfigError, match="courant must be in"):
        tiny_recipe(courant=courant)
