"""PINN residuals against exact answers: closed forms on decaying modes, order 2 in Δt, the
size and shape of the finite-volume residual at porous-medium and Stefan fronts, exact first-order
responses to perturbations, and the weighted penalty against a naive loop."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import erf
from jaxtyping import jaxtyped

from neuralpde._typing import Array, Float
from neuralpde.cell_grid import CellGrid
from neuralpde.constraints import (
    NavierStokesResidual,
    PorousMediumResidual,
    residual_loss,
    residual_penalty,
)
from neuralpde.grid import PeriodicGrid2D
from neuralpde.ic import taylor_green
from neuralpde.pde import (
    ConstantDiffusivity,
    Dirichlet,
    GeneralizedPorousMedium,
    HeatMode,
    NavierStokes2D,
    Periodic,
    PowerDiffusivity,
    StefanSimilarity,
    StepDiffusivity,
    TravellingFront,
    stefan_root,
)

F64 = jnp.float64
# One compilation per residual type and shape; the residual's arrays (Δt included) are traced.
# Compilation dominates this file's time: helpers are jitted whole rather than run op by op.
evaluate = jax.jit(lambda residual, *args: residual(*args))
loss = jax.jit(residual_loss)
penalty = jax.jit(residual_penalty)
averages = jax.jit(lambda grid, exact, t, dtype: grid.cell_averages(exact, t, dtype),
                   static_argnums=(0, 3))


def slope(steps, errors):
    return np.polyfit(np.log(steps), np.log(errors), 1)[0]


def midpoint_factor(rate, dt):
    """``(e^{−z} − 1)/Δt + rate (1 + e^{−z})/2``, ``z = rate Δt``: the residual of ``e^{−rate t}``
    over one step, per unit of the state at ``t₀``; ``rate³ Δt²/12 + O(Δt³)``."""
    return np.expm1(-rate * dt) / dt + rate * (1 + np.exp(-rate * dt)) / 2


# ----------------------------------------------------------------------------- Navier–Stokes


def fft_round_off(dtype, n, scale):
    """Four times ``eps · log₂(n²) · scale``: FFT round-off grows like the log of the size, and
    ``(ω₁ − ω₀)/Δt`` carries it at the scale ``max|ω|/Δt``."""
    return 4 * float(jnp.finfo(dtype).eps) * np.log2(n * n) * scale


def taylor_green_frames(n, nu, alpha, t0, dt, dtype):
    """Taylor–Green with drag: ``u·∇ω = 0``, so ``ω = 2 sin x sin y e^{−(2ν + α)t}`` exactly."""
    grid = PeriodicGrid2D(n, 2 * np.pi)
    pde = NavierStokes2D(grid, nu, alpha, dtype=dtype)
    frames = [taylor_green(grid, time=t, viscosity=nu, dtype=dtype) * float(np.exp(-alpha * t))
              for t in (t0, t0 + dt)]
    return pde, *frames


@pytest.mark.parametrize("dtype", [jnp.float32, F64])
def test_taylor_green_residual_is_the_closed_form(dtype):
    # Δt large enough that r (6e-4) stands 30 times above float32 round-off.
    nu, alpha, t0, dt, n = 0.1, 0.05, 0.3, 0.5, 32
    pde, w0, w1 = taylor_green_frames(n, nu, alpha, t0, dt, dtype)
    r = evaluate(NavierStokesResidual(pde, dt), w0, w1)
    assert r.dtype == dtype and r.shape == w0.shape
    expected = midpoint_factor(2 * nu + alpha, dt) * np.asarray(w0, np.float64)
    np.testing.assert_allclose(r, expected, rtol=0, atol=fft_round_off(dtype, n, 2 / dt))


def test_taylor_green_residual_is_second_order_in_dt():
    nu, alpha = 0.5, 0.1
    steps = [0.1, 0.05, 0.025, 0.0125]
    errors = []
    for dt in steps:
        pde, w0, w1 = taylor_green_frames(16, nu, alpha, 0.1, dt, F64)
        errors.append(float(jnp.max(jnp.abs(evaluate(NavierStokesResidual(pde, dt), w0, w1)))))
    assert slope(steps, errors) == pytest.approx(2.0, abs=0.05)
    # Leading term λ³Δt²/12 · max|ω₀|, λ = 2ν + α.
    rate = 2 * nu + alpha
    leading = rate**3 * steps[-1] ** 2 / 12 * 2 * np.exp(-rate * 0.1)
    assert errors[-1] == pytest.approx(leading, rel=rate * steps[-1])


@pytest.mark.parametrize("dtype, eps", [(F64, 0.1), (jnp.float32, 0.1)])
def test_navier_stokes_perturbation_response_is_exact(dtype, eps):
    """ω₁ + δ with δ = ε cos 2x on Taylor–Green: ω̄ = c sin x sin y gains δ/2, and by hand
    u·∇(ω̄ + δ/2) = −(cε/4) sin 2x sin x cos y (the self-advection of each single shell vanishes), so
    Δr = δ/Δt + (4ν + α) δ/2 − (cε/4) sin 2x sin x cos y, exactly."""
    nu, alpha, t0, dt = 0.05, 0.1, 0.3, 0.1
    pde, w0, w1 = taylor_green_frames(32, nu, alpha, t0, dt, dtype)
    x, y = pde.grid.coordinates(dtype)
    delta = eps * jnp.cos(2 * x)
    residual = NavierStokesResidual(pde, dt)
    change = evaluate(residual, w0, w1 + delta) - evaluate(residual, w0, w1)
    c = np.mean([2 * np.exp(-(2 * nu + alpha) * t) for t in (t0, t0 + dt)])
    expected = (delta / dt + (4 * nu + alpha) * delta / 2
                - c * eps / 4 * jnp.sin(2 * x) * jnp.sin(x) * jnp.cos(y))
    # The leading δ/Δt term alone is off by the O(Δt) rest: (4ν + α)Δt/2 + c Δt/4 relative.
    np.testing.assert_allclose(change, delta / dt, rtol=0,
                               atol=eps * ((4 * nu + alpha) / 2 + c / 4) * 1.01)
    # Round-off of the difference of two residuals of size max|ω|/Δt.
    np.testing.assert_allclose(change, expected, rtol=0, atol=2 * fft_round_off(dtype, 32, 2 / dt))


# ----------------------------------------------------------------------------- porous medium


def heat_periodic(n, kappa, wavenumbers):
    ndim = len(wavenumbers)
    grid = CellGrid((0.0,) * ndim, (2 * np.pi,) * ndim, (n,) * ndim)
    pde = GeneralizedPorousMedium(grid, ConstantDiffusivity(kappa), (Periodic(),) * ndim)
    return pde, HeatMode(kappa, wavenumbers, (0.0,) * ndim)


@pytest.mark.parametrize("dtype", [jnp.float32, F64])
@pytest.mark.parametrize("wavenumbers", [(2.0,), (1.0, 2.0)])
def test_periodic_heat_mode_residual_is_the_closed_form(dtype, wavenumbers):
    """Cell averages of a sine mode are an eigenvector of the periodic finite-volume Laplacian,
    eigenvalue ``−κ λ_h``, ``λ_h = Σ_d (4/h²) sin²(ξ_d h/2)``, while they decay at ``μ = κ|ξ|²``:
    ``r = ū(t₀) [(e^{−μΔt} − 1)/Δt + κ λ_h (1 + e^{−μΔt})/2]``."""
    kappa, n, t0, dt = 0.5, 16, 0.2, 0.05
    pde, exact = heat_periodic(n, kappa, wavenumbers)
    h = pde.grid.spacing[0]
    u0, u1 = (averages(pde.grid, exact, t, dtype) for t in (t0, t0 + dt))
    r = evaluate(PorousMediumResidual(pde, dt), u0, u1, t0)
    assert r.dtype == dtype and r.shape == pde.grid.shape
    mu = kappa * sum(k**2 for k in wavenumbers)
    lam_h = sum(4 / h**2 * np.sin(k * h / 2) ** 2 for k in wavenumbers)
    factor = np.expm1(-mu * dt) / dt + kappa * lam_h * (1 + np.exp(-mu * dt)) / 2
    tolerance = 20 * jnp.finfo(dtype).eps * (1 / dt + 4 * kappa * len(wavenumbers) / h**2)
    np.testing.assert_allclose(r, factor * np.asarray(u0, np.float64), rtol=0, atol=tolerance)


def test_heat_residual_in_time_is_second_order_with_moving_dirichlet_data():
    """``r(Δt) − τ_h(t₀ + Δt/2) = O(Δt²)``, with ``τ_h = dū/dt − F(t, ū)`` the spatial truncation
    error; the boundary data ``u(0, t) = e^{−κt} sin ½`` varies in time, so taking it at the wrong
    frame's time would leave ``O(Δt)``."""
    kappa, t0 = 0.7, 0.1
    grid = CellGrid((0.0,), (2.0,), (32,))
    exact = HeatMode(kappa, (1.0,), (-0.5,))
    pde = GeneralizedPorousMedium(grid, ConstantDiffusivity(kappa),
                                  ((Dirichlet(exact), Dirichlet(exact)),))

    @jax.jit
    def residual_and_floor(dt):
        def ubar(t):
            return grid.cell_averages(exact, t, F64)

        t_mid = t0 + dt / 2
        du = jax.jvp(ubar, (t_mid,), (jnp.ones_like(t_mid),))[1]
        tau = du - pde.rates(t_mid, ubar(t_mid))[0]
        return PorousMediumResidual(pde, dt)(ubar(t0), ubar(t0 + dt), t0), tau, t_mid

    steps = [0.1, 0.05, 0.025, 0.0125]
    errors = []
    for dt in steps:
        r, tau, t_mid = residual_and_floor(jnp.asarray(dt, F64))
        errors.append(float(jnp.max(jnp.abs(r - tau))))
    assert slope(steps, errors) == pytest.approx(2.0, abs=0.05)
    # The floor τ_h: O(h²) inside; O(1) in the Dirichlet half cells, where (ū₀ − g)·2/h is
    # u_x + h u_xx/3 + O(h²), so τ_h = κ u_xx/3 there (the global error stays O(h²)).
    assert float(jnp.max(jnp.abs(tau[1:-1]))) < 3e-4
    faces = jnp.asarray([[0.0], [2.0]], F64)
    np.testing.assert_allclose(tau[jnp.asarray([0, -1])], -kappa * exact(t_mid, faces) / 3,
                               rtol=0.01)


def test_heat_perturbation_response_is_exact():
    """The heat operator is affine: ``Δr = δ (1/Δt + κ λ_h/2)`` for a periodic sine mode ``δ``."""
    kappa, n, dt, eps = 0.5, 32, 0.01, 1e-3
    pde, exact = heat_periodic(n, kappa, (1.0,))
    h = pde.grid.spacing[0]
    u0, u1 = (averages(pde.grid, exact, t, F64) for t in (0.0, dt))
    delta = eps * jnp.sin(3 * jnp.asarray(pde.grid.centers(0)))
    residual = PorousMediumResidual(pde, dt)
    change = evaluate(residual, u0, u1 + delta, 0.0) - evaluate(residual, u0, u1, 0.0)
    lam_h = 4 / h**2 * np.sin(3 * h / 2) ** 2
    np.testing.assert_allclose(change, delta * (1 / dt + kappa * lam_h / 2), rtol=0, atol=1e-12)


# Exact cell averages from closed-form primitives: the grid's 8-point Gauss rule misses the
# Stefan jump u* → 0 by up to 0.035 in the front cell (1e-4 at the m = 3 front), an O(h/Δt) error
# in (u₁ − u₀)/Δt that swamps the residual.


def cell_averages_from_primitive(grid, primitive):
    edges = jnp.linspace(grid.lower[0], grid.upper[0], grid.shape[0] + 1, dtype=F64)
    return jnp.diff(primitive(edges)) / grid.spacing[0]


@functools.partial(jax.jit, static_argnums=(0, 1))
def front_averages(grid, m, t):
    """``∫ (m(t − x)⁺)^{1/m} dx = −(m(t − x)⁺)^{(m+1)/m} / (m + 1)``."""
    return cell_averages_from_primitive(
        grid, lambda x: -(m * jnp.maximum(t - x, 0)) ** ((m + 1) / m) / (m + 1))


@functools.partial(jax.jit, static_argnums=(0, 1))
def stefan_averages(grid, threshold, t):
    """``∫ erf(ax) dx = x erf(ax) + e^{−a²x²}/(a√π)``, on the liquid part ``x < s(t)``."""
    z1 = stefan_root(jnp.asarray(threshold, F64))
    a = 1 / (2 * jnp.sqrt(t))

    def primitive(x):
        x = jnp.minimum(x, 2 * z1 * jnp.sqrt(t))
        smooth = x * erf(a * x) + jnp.expm1(-((a * x) ** 2)) / (a * np.sqrt(np.pi))
        return x - (1 - threshold) / erf(z1) * smooth

    return cell_averages_from_primitive(grid, primitive)


def travelling_front(n, m):
    grid = CellGrid((0.0,), (1.0,), (n,))
    exact = TravellingFront(m)
    sides = (Dirichlet(exact), Dirichlet(exact))
    return GeneralizedPorousMedium(grid, PowerDiffusivity(m), (sides,))


def stefan(n, threshold):
    grid = CellGrid((0.0,), (1.0,), (n,))
    exact = StefanSimilarity(jnp.asarray(threshold, F64))
    sides = (Dirichlet(exact), Dirichlet(exact))
    return GeneralizedPorousMedium(grid, StepDiffusivity(jnp.asarray(threshold, F64)), (sides,))


def test_primitive_averages_agree_with_quadrature_where_smooth():
    grid = CellGrid((0.0,), (1.0,), (64,))
    quadrature = averages(grid, StefanSimilarity(jnp.asarray(0.6, F64)), 0.1, F64)
    closed = stefan_averages(grid, 0.6, 0.1)
    liquid = grid.centers(0) < float(StefanSimilarity(jnp.asarray(0.6, F64)).front(0.1)) - 1 / 64
    np.testing.assert_allclose(closed[liquid], quadrature[liquid], rtol=1e-13)


@pytest.mark.parametrize("m", [1.0, 3.0])
def test_travelling_front_residual_converges_at_order_one_over_m(m):
    """Near the front ``∂_t u ∝ (t − x)^{1/m − 1}``, so ``r ~ h^{1/m − 1}`` in the O(1) cells the
    front touches (Δt = h/2): ``mean|r| = O(h^{1/m})``. Away from it and from the boundary cell,
    ``r`` is small (m = 1: ``Φ = u²/2`` is quadratic in ``x``, and the scheme exact)."""
    t0 = 0.5
    sizes = [64, 128, 256]
    l1, far = [], []
    for n in sizes:
        dt = 0.5 / n
        pde = travelling_front(n, m)
        u0, u1 = front_averages(pde.grid, m, t0), front_averages(pde.grid, m, t0 + dt)
        r = evaluate(PorousMediumResidual(pde, dt), u0, u1, t0)
        l1.append(float(jnp.mean(jnp.abs(r))))
        away = np.abs(pde.grid.centers(0) - t0) > 3 / n
        away[0] = False
        far.append(float(jnp.max(jnp.abs(r[away]))))
        if m == 1.0:
            # Dirichlet half cell: (Φ(t) − Φ(t − h/2))·2/h = t − h/4 against the inflow t.
            assert float(r[0]) == pytest.approx(0.25, abs=1e-9)
    assert -slope(sizes, l1) == pytest.approx(1 / m, abs=0.05)
    assert max(far) < (1e-9 if m == 1.0 else 0.02)
    # The penalty scores the exact front below the predicted frame off by 1% of max u.
    delta = 0.01 * float(jnp.max(u1)) * jnp.sin(np.pi * jnp.asarray(pde.grid.centers(0)))
    residual = PorousMediumResidual(pde, 0.5 / sizes[-1])
    assert (loss(residual, u0, u1, t0)
            < 0.5 * loss(residual, u0, u1 + delta, t0))


def test_stefan_residual_is_the_predicted_front_dipole():
    """The enthalpy scheme's front cell ``i`` holds ``ū < u*``, so ``Φ(ū_i) = 0``, and its left
    neighbour ``Φ ≈ G(θ + ½)h`` (``G = u* ṡ`` by the Stefan condition, ``θ`` the front's place in
    cell ``i``): the face flux errs by ``G(θ − ½)``, and ``r_{i−1} = −r_i ≈ G(θ̄ − ½)/h``. Elsewhere
    ``r = O(h² + Δt²)``."""
    threshold, t0 = 0.6, 0.1
    sizes = [64, 128, 256]
    far = []
    z1 = float(stefan_root(jnp.asarray(threshold, F64)))
    for n in sizes:
        dt = 0.05 / n
        pde = stefan(n, threshold)
        u0 = stefan_averages(pde.grid, threshold, t0)
        u1 = stefan_averages(pde.grid, threshold, t0 + dt)
        r = np.asarray(evaluate(PorousMediumResidual(pde, dt), u0, u1, t0))
        fronts = [2 * z1 * np.sqrt(t) * n for t in (t0, t0 + dt)]
        i = int(fronts[0])
        assert int(fronts[1]) == i  # the front stays in cell i over the step
        theta = np.mean(fronts) - i
        g = threshold * z1 / np.sqrt(t0 + dt / 2)
        dipole = g * (theta - 0.5) * n
        np.testing.assert_allclose(r[i - 1 : i + 1], [dipole, -dipole], atol=0.03 * g * n)
        far.append(np.abs(np.delete(r, [i - 1, i])).max())
    assert slope(1 / np.asarray(sizes), far) == pytest.approx(2.0, abs=0.1)
    # The dipole has no mass: the residual still beats a 1% error in the loss.
    delta = 0.01 * jnp.sin(np.pi * jnp.asarray(pde.grid.centers(0)))
    residual = PorousMediumResidual(pde, 0.05 / sizes[-1])
    assert (loss(residual, u0, u1, t0)
            < 0.5 * loss(residual, u0, u1 + delta, t0))


@pytest.mark.parametrize("case", ["front", "stefan"])
def test_residual_integrates_to_the_mass_balance_defect(case):
    """``Σ r_i h = (M₁ − M₀)/Δt − (q₀ + q₁)/2`` to round-off (the scheme is conservative); on an
    exact solution the right side is the error of the trapezoidal inflow, small."""
    n, t0, dt = 64, 0.1, 0.01
    pde = travelling_front(n, 3.0) if case == "front" else stefan(n, 0.6)
    frame = ((lambda t: front_averages(pde.grid, 3.0, t)) if case == "front"
             else (lambda t: stefan_averages(pde.grid, 0.6, t)))
    u0, u1 = frame(t0), frame(t0 + dt)
    r = evaluate(PorousMediumResidual(pde, dt), u0, u1, t0)
    q0, q1 = (jnp.sum(pde.rates(t, u)[1]) for t, u in ((t0, u0), (t0 + dt, u1)))
    defect = (pde.mass(u1) - pde.mass(u0)) / dt - (q0 + q1) / 2
    np.testing.assert_allclose(jnp.sum(r) * pde.grid.cell_volume, defect, rtol=0, atol=1e-12)
    assert abs(float(defect)) < 0.01


def test_nonlinear_perturbation_response_stays_within_the_derived_bound():
    """``|Δr − δ/Δt|_∞ ≤ 2 k_max |δ|_∞ / h²`` (Φ is k_max-Lipschitz, the stencil's weights sum to
    at most 4/h²); with the parabolic number ``k_max Δt/h²`` small, ``Δr ≈ δ/Δt``."""
    m, n, t0, dt, eps = 3.0, 64, 0.5, 1e-5, 1e-3
    pde = travelling_front(n, m)
    u0, u1 = front_averages(pde.grid, m, t0), front_averages(pde.grid, m, t0 + dt)
    delta = eps * jnp.cos(5 * np.pi * jnp.asarray(pde.grid.centers(0)))
    residual = PorousMediumResidual(pde, dt)
    change = evaluate(residual, u0, u1 + delta, t0) - evaluate(residual, u0, u1, t0)
    k_max = float(jnp.max(u1) + eps) ** m
    bound = 2 * k_max * eps / pde.grid.spacing[0] ** 2
    deviation = float(jnp.max(jnp.abs(change - delta / dt)))
    assert 0 < deviation <= bound
    assert bound * dt / eps < 0.5  # so the leading term holds to 50% pointwise, here:
    np.testing.assert_allclose(change, delta / dt, rtol=0, atol=0.5 * eps / dt)


# ----------------------------------------------------------------------------- the penalty


def test_penalty_matches_a_naive_loop_and_differentiates():
    kappa, n, dt = 0.5, 16, 0.05
    pde, exact = heat_periodic(n, kappa, (1.0,))
    residual = PorousMediumResidual(pde, dt)
    times = jnp.asarray([0.0, 0.1, 0.3], F64)
    inputs = jnp.stack([averages(pde.grid, exact, t, F64) for t in times])
    rng = np.random.default_rng(0)
    predictions = inputs + jnp.asarray(rng.normal(scale=1e-2, size=inputs.shape))
    weight = 0.3
    naive = weight * np.mean([
        np.mean(np.square(np.asarray(evaluate(residual, u0, u1, t)))) for u0, u1, t in zip(
            inputs, predictions, times, strict=True)
    ])
    got = penalty(residual, inputs, predictions, weight, times)
    np.testing.assert_allclose(got, naive, rtol=1e-12)
    grad = jax.jit(jax.grad(residual_penalty, argnums=2))(residual, inputs, predictions, weight,
                                                           times)
    assert grad.shape == predictions.shape and bool(jnp.all(jnp.isfinite(grad)))
    assert float(jnp.max(jnp.abs(grad))) > 0


def test_navier_stokes_penalty_vanishes_to_order_on_a_batch():
    pde, w0, w1 = taylor_green_frames(16, 0.1, 0.0, 0.0, 0.01, F64)
    batch_in, batch_out = jnp.stack([w0, 2 * w0]), jnp.stack([w1, 2 * w1])
    got = penalty(NavierStokesResidual(pde, 0.01), batch_in, batch_out, 2.0)
    r = midpoint_factor(0.2, 0.01) * np.asarray(w0)
    np.testing.assert_allclose(got, 2.0 * np.mean(r**2) * (1 + 4) / 2, rtol=1e-6)


def test_errors_name_the_shapes():
    pde, w0, _ = taylor_green_frames(16, 0.1, 0.0, 0.0, 0.01, F64)
    residual = NavierStokesResidual(pde, 0.01)
    with pytest.raises(ValueError, match=r"\(16, 16\).*got float64 \(2, 16, 16\)"):
        residual(w0, jnp.stack([w0, w0]))
    with pytest.raises(ValueError, match="float64 field"):
        residual(w0, w0.astype(jnp.float32))
    porous = PorousMediumResidual(travelling_front(8, 1.0), 0.1)
    with pytest.raises(ValueError, match=r"grid's shape \(8,\)"):
        porous(jnp.zeros(8), jnp.zeros(9), 0.0)
    with pytest.raises(ValueError, match="one shape"):
        residual_penalty(residual, w0[None], jnp.stack([w0, w0]), 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        residual_penalty(residual, w0[None], w0[None], -1.0)
    with pytest.raises(ValueError, match="dt=0"):
        NavierStokesResidual(pde, 0.0)


def test_annotations_hold():
    pde, w0, w1 = taylor_green_frames(16, 0.1, 0.0, 0.0, 0.01, F64)
    porous, _ = heat_periodic(16, 0.5, (1.0, 2.0))
    u = jnp.ones((16, 16))
    with jaxtyped("context"):
        assert isinstance(w0, Float[Array, "x y"])
        assert isinstance(evaluate(NavierStokesResidual(pde, 0.01), w0, w1), Float[Array, "x y"])
        assert isinstance(u, Float[Array, "*space"])
        assert isinstance(evaluate(PorousMediumResidual(porous, 0.1), u, u, 0.0),
                          Float[Array, "*space"])
