"""ProbConserv's update and the hard projection against closed forms and a naive dense oracle."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import jaxtyped

from neuralpde._typing import Array, Float
from neuralpde.constraints import (
    LinearConstraint,
    ensemble_moments,
    hard_projection,
    mass_balance_constraint,
    mass_constraint,
    probconserv_update,
    read_mass_budget,
    zero_mean_constraint,
)
from neuralpde.io import FileLayout, TrajectoryFileWriter

N, K = 12, 3
SIGMA2 = [0.0, 0.3]
# Jitted once per shape: eager mode compiles every operation. test_annotations_hold and the
# error tests call the raw functions.
update = jax.jit(probconserv_update, static_argnames="dense")
project = jax.jit(hard_projection)


def problem(seed=0, n=N, k=K):
    """A random mean, positive variances, an SPD covariance and a full-rank constraint."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=n)
    var = rng.uniform(0.2, 2.0, size=n)
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n + 0.1 * np.eye(n)
    G = rng.normal(size=(k, n))
    b = rng.normal(size=k)
    return mu, var, cov, G, b


def naive(mu, cov, G, b, sigma2):
    """The update written out in dense numpy: ``(μ', Σ', G μ' − b, σ² M⁻¹ (G μ − b))``."""
    M = G @ cov @ G.T + sigma2 * np.eye(len(b))
    gain = cov @ G.T @ np.linalg.inv(M)
    mean = mu - gain @ (G @ mu - b)
    return mean, cov - gain @ G @ cov, sigma2 * np.linalg.solve(M, G @ mu - b)


@pytest.mark.parametrize("sigma2", SIGMA2)
def test_residual_after_the_update_is_the_closed_form(sigma2):
    mu, var, _, G, b = problem()
    mean, _ = update(jnp.asarray(mu), jnp.asarray(var), LinearConstraint(G, b),
                                 sigma2)
    expected = naive(mu, np.diag(var), G, b, sigma2)[2]
    np.testing.assert_allclose(G @ np.asarray(mean) - b, expected, atol=1e-12)


@pytest.mark.parametrize("sigma2", SIGMA2)
@pytest.mark.parametrize("form", ["diagonal", "dense"])
def test_mean_and_covariance_match_the_naive_dense_formula(sigma2, form):
    mu, var, cov, G, b = problem(1)
    prior = np.diag(var) if form == "diagonal" else cov
    variance = jnp.asarray(var if form == "diagonal" else cov)
    constraint = LinearConstraint(G, b)
    mean_ref, cov_ref, _ = naive(mu, prior, G, b, sigma2)
    mean, diagonal = update(jnp.asarray(mu), variance, constraint, sigma2,
                                        dense=False)
    mean_dense, full = update(jnp.asarray(mu), variance, constraint, sigma2,
                                          dense=True)
    assert diagonal.shape == (N,) and full.shape == (N, N)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(mean_dense, mean_ref, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(diagonal, np.diag(cov_ref), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(full, cov_ref, rtol=1e-11, atol=1e-12)
    # The default returns the covariance in the form it was given.
    assert update(jnp.asarray(mu), variance, constraint, sigma2)[1].ndim == (
        variance.ndim)


def test_hard_limit_holds_to_round_off_in_float64_and_float32():
    mu, var, cov, G, b = problem(2)
    for variance in (var, cov):
        mean, _ = update(jnp.asarray(mu), jnp.asarray(variance),
                                     LinearConstraint(G, b))
        np.testing.assert_allclose(G @ np.asarray(mean), b, atol=1e-13)
    # Mass of a 64² porous-medium-like field in float32: next mass = mass + inflow.
    rng = np.random.default_rng(3)
    state = jnp.asarray(rng.uniform(0, 1, (64, 64)), jnp.float32)
    pred = jnp.asarray(rng.uniform(0, 1.1, 64 * 64), jnp.float32)
    var32 = jnp.asarray(rng.uniform(1e-4, 1e-2, 64 * 64), jnp.float32)
    constraint = mass_balance_constraint(state, 1 / 64**2, jnp.float32(0.03))
    mean, variance = update(pred, var32, constraint)
    assert mean.dtype == variance.dtype == jnp.float32
    target = np.sum(np.asarray(state, np.float64)) / 64**2 + 0.03
    assert abs(np.sum(np.asarray(mean, np.float64)) / 64**2 - target) <= 1e-6 * target
    assert abs(np.sum(np.asarray(pred, np.float64)) / 64**2 - target) > 1e-2 * target


def test_identity_covariance_gives_the_orthogonal_projection():
    mu, _, _, G, b = problem(4)
    constraint = LinearConstraint(G, b)
    mean, _ = update(jnp.asarray(mu), jnp.ones(N), constraint)
    projected = project(jnp.asarray(mu), constraint)
    np.testing.assert_allclose(mean, projected, atol=1e-13)
    np.testing.assert_allclose(projected, mu + np.linalg.pinv(G) @ (b - G @ mu), atol=1e-13)
    np.testing.assert_allclose(project(projected, constraint), projected, atol=1e-13)
    # μ − μ' lies in the row space of G, so it is orthogonal to the null space of G.
    null_space = np.linalg.svd(G)[2][K:]
    np.testing.assert_allclose(null_space @ (mu - np.asarray(projected)), 0, atol=1e-13)


def test_builders_give_the_closed_form_corrections():
    rng = np.random.default_rng(5)
    field = jnp.asarray(rng.normal(size=(8, 6)))
    u = field.reshape(-1)
    np.testing.assert_allclose(project(u, zero_mean_constraint(48)), u - jnp.mean(u),
                               atol=1e-14)
    # A uniform variance spreads the missing mass uniformly: u + (M − |cell| Σu) / (n |cell|).
    constraint = mass_constraint(0.5, 48, 7.0)
    mean, _ = update(u, jnp.full(48, 0.3), constraint)
    np.testing.assert_allclose(mean, u + (7.0 - 0.5 * jnp.sum(u)) / (48 * 0.5), atol=1e-13)
    balance = mass_balance_constraint(field, 0.5, 2.0)
    np.testing.assert_allclose(balance.b, 0.5 * jnp.sum(u) + 2.0)
    assert balance.G.shape == (1, 48)


def test_vmap_matches_a_loop_and_jit_matches_eager():
    rng = np.random.default_rng(6)
    states = jnp.asarray(rng.uniform(size=(4, 16)))
    preds = jnp.asarray(rng.uniform(size=(4, 16)))
    variances = jnp.asarray(rng.uniform(0.1, 1, size=(4, 16)))
    inflows = jnp.asarray(rng.normal(size=4))

    def step(state, pred, variance, inflow):
        constraint = mass_balance_constraint(state, 0.1, inflow)
        return probconserv_update(pred, variance, constraint, 0.01)

    batched = jax.jit(jax.vmap(step))(states, preds, variances, inflows)
    single = jax.jit(step)
    for i in range(4):
        for got, want in zip(batched, single(states[i], preds[i], variances[i], inflows[i]),
                             strict=True):
            np.testing.assert_allclose(got[i], want, atol=1e-14)
    eager = step(states[0], preds[0], variances[0], inflows[0])
    for got, want in zip(batched, eager, strict=True):
        np.testing.assert_allclose(got[0], want, atol=1e-14)


def test_gradients_are_finite_and_match_finite_differences():
    mu, var, _, G, b = problem(7)
    constraint = LinearConstraint(G, b)

    def loss(mu, var, sigma2):
        mean, variance = update(mu, var, constraint, sigma2)
        return jnp.sum(mean**2) + jnp.sum(variance)

    args = (jnp.asarray(mu), jnp.asarray(var), jnp.asarray(0.2))
    grads = jax.grad(loss, argnums=(0, 1, 2))(*args)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)
    h = 1e-6
    fd = (loss(args[0], args[1], args[2] + h) - loss(args[0], args[1], args[2] - h)) / (2 * h)
    np.testing.assert_allclose(grads[2], fd, rtol=1e-6)


def test_singular_systems_give_finite_answers_not_nan():
    mu, var, _, G, b = problem(8)
    mu = jnp.asarray(mu)
    duplicated = LinearConstraint(np.concatenate([G, G[:1]]), np.concatenate([b, b[:1]]))
    # Zero variances with duplicate rows and σ² = 0: G Σ Gᵀ = 0; a certain prior does not move.
    mean, variance = update(mu, jnp.zeros(N), duplicated)
    np.testing.assert_array_equal(mean, mu)
    np.testing.assert_array_equal(variance, 0)
    # Positive variances with a duplicated row: the same answer as without the duplicate.
    want = update(mu, jnp.asarray(var), LinearConstraint(G, b), dense=True)
    got = update(mu, jnp.asarray(var), duplicated, dense=True)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-12)
    np.testing.assert_allclose(G @ np.asarray(got[0]), b, atol=1e-12)
    # Conflicting duplicates (no solution) and gradients at the singular point stay finite.
    conflict = LinearConstraint(np.concatenate([G, G[:1]]), np.concatenate([b, b[:1] + 1]))
    assert bool(jnp.all(jnp.isfinite(update(mu, jnp.asarray(var), conflict)[0])))
    assert bool(jnp.all(jnp.isfinite(project(mu, conflict))))
    grad = jax.grad(lambda m, v: jnp.sum(update(m, v, duplicated)[0] ** 2),
                    argnums=(0, 1))(mu, jnp.asarray(var))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grad)
    # Float32 duplicates are singular only up to round-off: still no NaN, constraint held.
    mean32, _ = update(mu.astype(jnp.float32), jnp.asarray(var, jnp.float32),
                                   duplicated)
    np.testing.assert_allclose(G @ np.asarray(mean32, np.float64), b, atol=1e-5)


def test_shape_mismatches_raise_naming_both_shapes():
    constraint = LinearConstraint(np.ones((2, 10)), np.zeros(2))
    with pytest.raises(ValueError, match=r"\(2, 10\).*\(12,\)"):
        constraint.check(12)
    with pytest.raises(ValueError, match=r"\(2, 10\).*\(12,\)"):
        probconserv_update(jnp.zeros(12), jnp.ones(12), constraint)
    with pytest.raises(ValueError, match=r"\(2, 10\).*\(12,\)"):
        hard_projection(jnp.zeros(12), constraint)
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        constraint.residual(jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"b of shape \(3,\)"):
        LinearConstraint(np.ones((2, 10)), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(10,\) or \(10, 10\)"):
        probconserv_update(jnp.zeros(10), jnp.ones(9), constraint)
    with pytest.raises(ValueError, match="sigma2 must be >= 0"):
        probconserv_update(jnp.zeros(10), jnp.ones(10), constraint, -1.0)


def test_ensemble_moments_are_the_mixture_moments():
    rng = np.random.default_rng(9)
    means, variances = rng.normal(size=(5, 7)), rng.uniform(size=(5, 7))
    mean, var = ensemble_moments(jnp.asarray(means))
    np.testing.assert_allclose(mean, means.mean(0), atol=1e-14)
    np.testing.assert_allclose(var, means.var(0), atol=1e-14)
    _, mixture = ensemble_moments(jnp.asarray(means), jnp.asarray(variances))
    second_moment = np.mean(variances + means**2, axis=0)
    np.testing.assert_allclose(mixture, second_moment - means.mean(0) ** 2, atol=1e-13)
    with pytest.raises(ValueError, match=r"\(5, 6\).*\(5, 7\)"):
        ensemble_moments(jnp.asarray(means), jnp.ones((5, 6)))


def test_mass_budget_from_a_file_constrains_the_next_state(tmp_path):
    rng = np.random.default_rng(10)
    n_traj, n_time, nx, volume = 2, 4, 8, 0.125
    u = rng.uniform(size=(n_traj, n_time, nx)).astype(np.float32)
    mass = volume * u.astype(np.float64).sum(-1)
    step_inflow = np.concatenate([np.zeros((n_traj, 1)), np.diff(mass, axis=1)], axis=1)
    layout = FileLayout(
        dataset_name="budget", n_trajectories=n_traj, time=np.arange(n_time, dtype=float),
        coordinates={"x": (np.arange(nx) + 0.5) / nx}, boundary_types={"x": "OPEN"},
        fields={"u": 0}, time_series=("mass", "boundary_flux_x_low", "boundary_flux_x_high"),
        constants={"cell_volume": volume},
    )
    path = tmp_path / "budget.hdf5"
    with TrajectoryFileWriter(path, layout) as writer:
        writer.write(0, {"u": u, "mass": mass, "boundary_flux_x_low": 0.25 * step_inflow,
                         "boundary_flux_x_high": 0.75 * step_inflow,
                         "trajectory_index": np.arange(n_traj)})
    budget = read_mass_budget(path)
    assert budget.cell_volume == volume
    np.testing.assert_allclose(budget.mass[:, 1:], budget.mass[:, :-1] + budget.inflow[:, 1:],
                               rtol=1e-6)
    constraint = mass_balance_constraint(jnp.asarray(u[1, 2], jnp.float64), budget.cell_volume,
                                         budget.inflow[1, 3])
    guess = jnp.asarray(u[1, 3] + 0.1, jnp.float64)
    np.testing.assert_allclose(volume * jnp.sum(project(guess, constraint)),
                               budget.mass[1, 3], rtol=1e-6)


def test_annotations_hold():
    mu, var, cov, G, b = (jnp.asarray(a) for a in problem(11))
    constraint = LinearConstraint(G, b)
    with jaxtyped("context"):
        assert isinstance(constraint.G, Float[Array, "k n"])
        assert isinstance(constraint.b, Float[Array, " k"])
        for variance, shape in ((var, " n"), (cov, "n n")):
            assert isinstance(variance, Float[Array, shape])
            mean, posterior = probconserv_update(mu, variance, constraint)
            assert isinstance(mean, Float[Array, " n"])
            assert isinstance(posterior, Float[Array, shape])
        assert isinstance(hard_projection(mu, constraint), Float[Array, " n"])
