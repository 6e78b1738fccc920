"""The subdomain balance against exact answers: every tile's Galerkin moments of the residual
vanish to round-off on the porous-medium step and on the spectral (global) Navier–Stokes step, the
correction is a polynomial of the chosen degree per tile (one exact constant for a single tile),
an affine residual gives the hand-built Galerkin solve and its oblique projection as Jacobian,
gradients are the implicit function theorem's, and bad input is named."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial
from jaxtyping import jaxtyped

from neuralpde._typing import Array, Float
from neuralpde.cell_grid import CellGrid
from neuralpde.constraints import (
    BalanceStats,
    NavierStokesResidual,
    PorousMediumResidual,
    SubdomainBalance,
)
from neuralpde.grid import PeriodicGrid2D
from neuralpde.ic import taylor_green
from neuralpde.pde import (
    Barenblatt,
    GeneralizedPorousMedium,
    NavierStokes2D,
    NoFlux,
    PowerDiffusivity,
)

F64 = jnp.float64


def barenblatt(shape, m, dt):
    grid = CellGrid((0.0,) * len(shape), (1.0,) * len(shape), shape)
    exact = Barenblatt.from_peak_and_radius(m, 1.0, 0.3, (0.5,) * len(shape), len(shape))
    pde = GeneralizedPorousMedium(grid, PowerDiffusivity(m), ((NoFlux(), NoFlux()),) * len(shape))
    return pde, PorousMediumResidual(pde, dt), grid.cell_averages(exact, 0.0, F64)


def porous(step, u0, u):
    return step(u0, u, 0.0)


def affine(matrix, offset, u):
    return (matrix @ u.ravel() - offset).reshape(u.shape)


@jax.jit
def run(constraint, residual, prediction):
    return constraint.solve(residual, prediction)


def naive_basis(shape, experts, degree):
    """``Φ (N, K B)``: per tile its indicator, then (degree 1) the global cell index along each
    axis on the tile; the same span as the constraint's centred basis, built cell by cell."""
    sizes = [n // k for n, k in zip(shape, experts, strict=True)]
    index = np.indices(shape).astype(np.float64)
    columns = []
    for tile in np.ndindex(*experts):
        indicator = np.zeros(shape)
        indicator[tuple(slice(t * s, (t + 1) * s) for t, s in zip(tile, sizes, strict=True))] = 1
        columns.append(indicator.ravel())
        if degree == 1:
            columns.extend((indicator * index[d]).ravel() for d in range(len(shape)))
    return np.stack(columns, axis=1)


def perturbed(u0):
    return u0 + 0.01 * jnp.sin(7.0 * jnp.arange(u0.size)).reshape(u0.shape)


@pytest.mark.parametrize("degree", [0, 1])
def test_porous_medium_tiles_balance_with_a_piecewise_polynomial_correction(degree):
    pde, step, u0 = barenblatt((64,), 2.0, 2e-4)
    mu = perturbed(u0)
    residual = Partial(porous, step, u0)
    u, stats = run(SubdomainBalance((8,), degree), residual, mu)
    basis = naive_basis((64,), (8,), degree)
    before = np.abs(basis.T @ np.asarray(residual(mu)))
    after = np.abs(basis.T @ np.asarray(residual(u)))
    assert stats.converged and stats.moment < 1e-10 * before.max()
    assert after.max() < 1e-10 * before.max()
    tiles = np.asarray(u - mu).reshape(8, 8)
    size = np.max(np.abs(tiles))
    if degree == 0:
        np.testing.assert_allclose(np.ptp(tiles, axis=1), 0, atol=1e-13 * size)
    else:
        np.testing.assert_allclose(np.diff(tiles, 2, axis=1), 0, atol=1e-13 * size)
        assert np.ptp(np.diff(tiles, axis=1)) > 1e-6 * size  # the slopes are used, and differ
    # Closed walls: Σ r |cell| = (M* − M₀)/Δt, and the tiles' zeroth moments sum to it.
    mass = pde.mass(u0)
    assert abs(pde.mass(u) - mass) < 1e-13 * mass
    assert abs(pde.mass(mu) - mass) > 1e-6 * mass


def navier_stokes(n, nu, alpha, dt):
    """A Taylor–Green step whose prediction carries an off-shell perturbation: nonlinear in c."""
    grid = PeriodicGrid2D(n, 2 * np.pi)
    pde = NavierStokes2D(grid, nu, alpha, dtype=F64)
    w0 = taylor_green(grid, time=0.0, viscosity=nu, dtype=F64)
    x, y = grid.coordinates(F64)
    mu = taylor_green(grid, time=dt, viscosity=nu, dtype=F64) + 0.3 * jnp.cos(2 * x + y) + 0.1
    return NavierStokesResidual(pde, dt), w0, mu


def test_navier_stokes_tiles_balance_and_one_tile_is_the_exact_mean_shift():
    nu, alpha, dt = 0.05, 0.1, 0.1
    step, w0, mu = navier_stokes(32, nu, alpha, dt)
    residual = Partial(step, w0)

    def tile_sums(r):
        return np.asarray(r).reshape(4, 8, 4, 8).sum(axis=(1, 3))

    u, stats = run(SubdomainBalance((4, 4)), residual, mu)
    before = np.max(np.abs(tile_sums(residual(mu))))
    assert stats.converged and stats.steps > 2  # the advection makes G nonlinear in c
    assert np.max(np.abs(tile_sums(residual(u)))) < 1e-10 * before
    correction = np.asarray(u - mu).reshape(4, 8, 4, 8)
    np.testing.assert_allclose(np.ptp(correction, axis=(1, 3)), 0,
                               atol=1e-13 * np.max(np.abs(correction)))
    # One tile: a constant c only moves the mean mode (no velocity, −Lc = αc), so
    # r(μ + c) = r(μ) + c (1/Δt + α/2) everywhere, and c = −mean r(μ) / (1/Δt + α/2).
    u, stats = run(SubdomainBalance((1, 1)), residual, mu)
    r_mu = np.asarray(residual(mu))
    c = -np.mean(r_mu) / (1 / dt + alpha / 2)
    np.testing.assert_allclose(u - mu, c, rtol=1e-12)
    np.testing.assert_allclose(residual(u), r_mu + c * (1 / dt + alpha / 2), rtol=0,
                               atol=1e-12 * np.max(np.abs(r_mu)))
    assert abs(np.mean(np.asarray(residual(u)))) < 1e-13 * np.max(np.abs(r_mu))
    assert stats.steps <= 2  # affine in c: one step, and one of round-off size


@pytest.mark.parametrize(("shape", "experts", "degree"), [
    ((24,), (4,), 1), ((6, 8), (2, 2), 1), ((6, 8), (3, 4), 0)])
def test_affine_residual_is_the_hand_built_galerkin_solve(shape, experts, degree):
    rng = np.random.default_rng(0)
    n = int(np.prod(shape))
    matrix = n * np.eye(n) + rng.normal(size=(n, n))
    offset, mu = rng.normal(size=n), rng.normal(size=shape)
    constraint = SubdomainBalance(experts, degree)
    residual = Partial(affine, jnp.asarray(matrix), jnp.asarray(offset))
    u, stats = run(constraint, residual, jnp.asarray(mu))
    phi = naive_basis(shape, experts, degree)
    galerkin = phi.T @ matrix @ phi
    c = np.linalg.solve(galerkin, -phi.T @ (matrix @ mu.ravel() - offset))
    np.testing.assert_allclose(u, (mu.ravel() + phi @ c).reshape(shape), rtol=0, atol=1e-13)
    assert stats.converged and stats.steps == 2
    # u* = (I − Φ(ΦᵀAΦ)⁻¹ΦᵀA) μ + Φ(ΦᵀAΦ)⁻¹Φᵀ f: reverse mode must give these matrices exactly.
    jac_mu, jac_f = jax.jit(jax.jacrev(
        lambda m, f: constraint(Partial(affine, jnp.asarray(matrix), f), m).ravel(),
        argnums=(0, 1)))(jnp.asarray(mu), jnp.asarray(offset))
    projection = np.eye(n) - phi @ np.linalg.solve(galerkin, phi.T @ matrix)
    np.testing.assert_allclose(np.asarray(jac_mu).reshape(n, n), projection, rtol=0, atol=1e-13)
    np.testing.assert_allclose(jac_f, phi @ np.linalg.solve(galerkin, phi.T), rtol=0, atol=1e-13)


def test_gradients_are_the_implicit_function_theorem_and_match_finite_differences():
    pde, _, u0 = barenblatt((32,), 2.0, 2e-4)
    mu = perturbed(u0)
    direction = jnp.cos(3.0 * jnp.arange(32))

    @jax.jit
    def loss(constraint, u0, mu, dt):
        u = constraint(Partial(porous, PorousMediumResidual(pde, dt), u0), mu)
        return jnp.sum(u**2 * direction)

    dt = jnp.asarray(2e-4)
    for constraint in (SubdomainBalance((4,)), SubdomainBalance((4,), degree=1)):
        # Reverse mode through a while_loop raises, so these gradients are custom_root's IFT.
        gradients = jax.jit(jax.grad(loss, argnums=(1, 2, 3)))(constraint, u0, mu, dt)
        h, v = 1e-6, jnp.sin(jnp.arange(32.0))
        for index, (x, tangent) in enumerate([(u0, v), (mu, v), (dt, 1e-4)]):
            plus, minus = [u0, mu, dt], [u0, mu, dt]
            plus[index], minus[index] = x + h * tangent, x - h * tangent
            fd = (loss(constraint, *plus) - loss(constraint, *minus)) / (2 * h)
            np.testing.assert_allclose(jnp.sum(gradients[index] * tangent), fd, rtol=1e-6,
                                       atol=1e-9)


def test_bad_input_is_named():
    _, step, u0 = barenblatt((64,), 2.0, 2e-4)
    residual = Partial(porous, step, u0)
    with pytest.raises(ValueError, match=r"experts \(6,\) must divide the prediction's shape "
                                         r"\(64,\)"):
        SubdomainBalance((6,))(residual, u0)
    with pytest.raises(ValueError, match=r"experts \(4, 4\) count tiles on 2 axes, but the "
                                         r"prediction's shape \(64,\) has 1"):
        SubdomainBalance((4, 4))(residual, u0)
    with pytest.raises(ValueError, match=r"shape \(64,\) to shape \(32,\)"):
        SubdomainBalance((4,))(lambda u: residual(u)[:32], u0)
    with pytest.raises(ValueError, match=r"experts \(64,\) cut shape \(64,\) into tiles of "
                                         r"shape \(1,\)"):
        SubdomainBalance((64,), degree=1)(residual, u0)
    with pytest.raises(ValueError, match="degree must be 0 or 1"):
        SubdomainBalance((4,), degree=2)
    with pytest.raises(ValueError, match="positive ints"):
        SubdomainBalance((0,))


def test_vmap_and_jit_match_an_eager_loop():
    _, step, u0 = barenblatt((32,), 2.0, 2e-4)
    residual = Partial(porous, step, u0)
    constraint = SubdomainBalance((4,), degree=1)
    batch = jnp.stack([u0 + 0.01 * k * jnp.sin(5.0 * k * jnp.arange(32)) for k in (1, 2, 3)])
    u, stats = jax.jit(jax.vmap(constraint.solve, in_axes=(None, 0)))(residual, batch)
    for k in range(3):
        single, single_stats = constraint.solve(residual, batch[k])
        np.testing.assert_allclose(u[k], single, rtol=0, atol=1e-14)
        assert stats.steps[k] == single_stats.steps and single_stats.converged
    with jaxtyped("context"):
        assert isinstance(single, Float[Array, "*space"])
        assert isinstance(single_stats, BalanceStats)
        assert isinstance(constraint.tiles(single), Float[Array, "expert n"])
    np.testing.assert_array_equal(constraint.tiles(single)[1], single[8:16])
