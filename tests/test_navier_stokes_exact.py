"""The Navier–Stokes solver against exact solutions: sign convention, forcing, nonlinear term."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neuralpde.grid import PeriodicGrid2D
from neuralpde.ic import taylor_green
from neuralpde.pde import NavierStokes2D, fno_forcing, kolmogorov_forcing
from neuralpde.solvers import STEPPERS, repeat

ALL_STEPPERS = sorted(STEPPERS)


def run(pde, stepper_name, w0, dt, n_steps):
    grid = pde.grid
    step = STEPPERS[stepper_name](pde, dt)
    return grid.to_physical(jax.jit(repeat(step, n_steps))(grid.to_spectral(w0)))


def relative_error(a, b):
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


# exponax reaches 1.0e-5 in float32 on this case; the FNO scheme is second order on the
# (purely linear) Taylor–Green decay, error h²/12 per unit time: 6.7e-8 at dt = 0.01.
@pytest.mark.parametrize(
    "stepper, dtype, tolerance",
    [
        ("etdrk2", jnp.float32, 1e-5),
        ("etdrk4", jnp.float32, 1e-5),
        ("fno_crank_nicolson", jnp.float32, 1e-5),
        ("etdrk2", jnp.float64, 1e-9),
        ("etdrk4", jnp.float64, 1e-9),
        ("fno_crank_nicolson", jnp.float64, 1e-7),
    ],
)
def test_taylor_green_vortex(stepper, dtype, tolerance):
    grid = PeriodicGrid2D(64, 2 * np.pi)
    nu = 0.1
    w0 = taylor_green(grid, dtype=dtype)
    w = run(NavierStokes2D(grid, nu, dtype=dtype), stepper, w0, 0.01, 100)
    assert w.dtype == dtype
    exact = 2 * jnp.sin(grid.coordinates(dtype)[0]) * jnp.sin(grid.coordinates(dtype)[1])
    assert relative_error(w, exact * np.exp(-2 * nu * 1.0)) <= tolerance


@pytest.mark.parametrize("stepper", ["etdrk2", "etdrk4"])
def test_fno_forcing_single_shell_exact(stepper):
    """Forcing and initial state on the shell |m| = √2: u·∇ω = 0, and each mode solves
    ω' = −(ν k² + α) ω + f, so ω(t) = e^{−λt} ω₀ + (1 − e^{−λt}) f / λ exactly."""
    grid = PeriodicGrid2D(32, 1.0)
    nu, alpha, t = 0.01, 0.3, 2.0
    x, y = grid.coordinates(jnp.float64)
    w0 = jnp.cos(2 * jnp.pi * (x - y)) + 0.5 * jnp.sin(2 * jnp.pi * (x + y))
    f = fno_forcing(grid, 0.1, jnp.float64)
    decay = nu * 8 * np.pi**2 + alpha
    exact = np.exp(-decay * t) * w0 + (1 - np.exp(-decay * t)) * f / decay
    pde = NavierStokes2D(grid, nu, alpha, f, jnp.float64)
    assert relative_error(run(pde, stepper, w0, 0.05, 40), exact) < 1e-12


@pytest.mark.parametrize("stepper", ["etdrk2", "etdrk4"])
def test_kolmogorov_laminar_flow_with_drag(stepper):
    """u = (U(t) sin(ky), 0) with U' = −(νk² + α) U + A is an exact solution."""
    grid = PeriodicGrid2D(32, 2 * np.pi)
    nu, alpha, amplitude, k, t = 0.05, 0.1, 1.0, 4, 3.0
    _, y = grid.coordinates(jnp.float64)
    lam = nu * k**2 + alpha
    speed0 = 0.2
    speed = np.exp(-lam * t) * speed0 + (1 - np.exp(-lam * t)) * amplitude / lam
    w0 = -speed0 * k * jnp.cos(k * y)
    pde = NavierStokes2D(grid, nu, alpha, kolmogorov_forcing(grid, k, amplitude, jnp.float64),
                         jnp.float64)
    exact = -speed * k * jnp.cos(k * y)
    assert relative_error(run(pde, stepper, w0, 0.05, 60), exact) < 1e-12


@pytest.mark.parametrize("stepper", ALL_STEPPERS)
def test_manufactured_steady_state_pins_nonlinear_term(stepper):
    """ω* = sin x + cos 2y has u·∇ω* = (3/2) cos x sin 2y (worked by hand, with u = (ψ_y, −ψ_x),
    ψ = sin x + cos(2y)/4). With f = u·∇ω* − νΔω* + αω*, ω* is steady: a flipped sign in the
    advection, the velocity or the forcing moves it at O(1)."""
    grid = PeriodicGrid2D(32, 2 * np.pi)
    nu, alpha = 0.02, 0.1
    x, y = grid.coordinates(jnp.float64)
    w_star = jnp.sin(x) + jnp.cos(2 * y)
    advection = 1.5 * jnp.cos(x) * jnp.sin(2 * y)
    f = advection + nu * (jnp.sin(x) + 4 * jnp.cos(2 * y)) + alpha * w_star
    pde = NavierStokes2D(grid, nu, alpha, f, jnp.float64)
    assert relative_error(run(pde, stepper, w_star, 0.01, 200), w_star) < 1e-12


def test_nonlinear_term_matches_finite_differences():
    """An independent check of N(ω̂) = −u·∇ω on a band-limited field, against centred
    differences of ψ and ω on a fine grid (no FFT in the oracle)."""
    grid = PeriodicGrid2D(512, 2 * np.pi)
    x, y = grid.coordinates(jnp.float64)
    psi = jnp.sin(x) * jnp.cos(2 * y) + 0.3 * jnp.cos(3 * x + y)
    w = 5 * jnp.sin(x) * jnp.cos(2 * y) + 0.3 * 10 * jnp.cos(3 * x + y)  # −Δψ by hand
    h = grid.dx

    def ddx(f, axis):
        return (jnp.roll(f, -1, axis) - jnp.roll(f, 1, axis)) / (2 * h)

    expected = -(ddx(psi, 1) * ddx(w, 0) - ddx(psi, 0) * ddx(w, 1))
    pde = NavierStokes2D(grid, 0.0, dtype=jnp.float64)
    got = grid.to_physical(pde.nonlinear(grid.to_spectral(w)))
    # The oracle's own error is about (3h)²/6 · 2 = 4e-4 at h = 2π/512, for the mode m = 3.
    assert relative_error(got, expected) < 5e-4


def test_basdevant_form_equals_the_advective_form_on_band_limited_states():
    """``nonlinear`` (four FFTs, ``(∂xx − ∂yy)(uv) + ∂x∂y(v² − u²)``) against the five-FFT
    advective form ``P·FFT(u ∂xω + v ∂yω)`` on a random state inside the 2/3 rule, where both
    dealiased products are exact: equal to round-off. Outside the rule they differ (aliasing)."""
    grid = PeriodicGrid2D(64, 1.0)
    pde = NavierStokes2D(grid, 1e-3, dtype=jnp.float64)
    keys = jax.random.split(jax.random.key(0), 2)
    noise = jax.random.normal(keys[0], grid.spectral_shape) + 1j * jax.random.normal(
        keys[1], grid.spectral_shape)
    w_hat = grid.to_spectral(grid.to_physical(noise * pde.dealias)) * 1e3

    def advective(w_hat):
        u, v, wx, wy = (grid.to_physical(s) for s in
                        (*pde.velocity(w_hat), 1j * pde.kx * w_hat, 1j * pde.ky * w_hat))
        return -pde.dealias * jnp.fft.rfft2(u * wx + v * wy)

    scale = jnp.max(jnp.abs(advective(w_hat)))
    assert scale > 1.0
    assert jnp.max(jnp.abs(pde.nonlinear(w_hat) - advective(w_hat))) < 1e-12 * scale
    full = grid.to_spectral(grid.to_physical(noise)) * 1e3  # every mode: aliasing differs
    assert jnp.max(jnp.abs(pde.nonlinear(full) - advective(full))) > 1e-6 * scale
