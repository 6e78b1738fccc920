"""The coordinate-network PINN: AD residual against finite differences, the RAD sampler, and a fit
of the decaying heat mode."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from neuralpde.constraints import (
    CoordinateMLP,
    GPMEProblem1D,
    PINNConfig,
    fit_coordinate_pinn,
    gpme_residual,
    residual_adaptive_points,
)
from neuralpde.pde import ConstantDiffusivity, HeatMode, PowerDiffusivity


def heat_problem(kappa=0.5):
    exact = HeatMode(kappa, (1.0,), (0.0,))
    problem = GPMEProblem1D(ConstantDiffusivity(kappa), lambda p: exact(0.0, p), exact, 0.0,
                            float(np.pi), 1.0)
    return problem, exact


def test_ad_residual_matches_finite_differences():
    """``r = u_t − ∂_xx Φ(u)`` for ``Φ = u³/3`` on a random network, against centred differences
    (error ``O(h²)``, about 1e-6 at ``h = 1e-3``)."""
    model = CoordinateMLP((0.0, 0.0), (1.0, 1.0), 16, 2, dtype=jnp.float64, rngs=nnx.Rngs(3))
    diffusivity = PowerDiffusivity(2.0)
    # Shift the output so that u > 0, where Φ = u³/3 is smooth.
    model.layers[-1].bias[...] = model.layers[-1].bias[...] + 2.0
    h = 1e-3

    @jax.jit
    def both(x, t):
        r = jax.vmap(gpme_residual, (None, None, 0, 0))(model, diffusivity, x, t)
        u = jax.vmap(model)
        phi = diffusivity.potential
        u_t = (u(x, t + h) - u(x, t - h)) / (2 * h)
        phi_xx = (phi(u(x + h, t)) - 2 * phi(u(x, t)) + phi(u(x - h, t))) / h**2
        return r, u_t - phi_xx

    r, oracle = both(jnp.asarray([0.3, 0.7]), jnp.asarray([0.2, 0.9]))
    np.testing.assert_allclose(r, oracle, rtol=0, atol=1e-5 * float(jnp.max(jnp.abs(r))))


def test_rad_concentrates_where_the_residual_is_large():
    problem, _ = heat_problem()
    key = jax.random.key(0)

    def bump(points):
        return jnp.exp(-(((points[:, 0] - 1.0) / 0.05) ** 2))

    focused = residual_adaptive_points(key, bump, problem, 200, 4000, k=1.0, c=0.0)
    uniform = residual_adaptive_points(key, bump, problem, 200, 4000, k=1.0, c=1e6)
    assert focused.shape == (200, 2) and focused.dtype == jnp.float32
    # Mean distance to x = 1: about 0.03 under the bump's own density (c = 0), and
    # (1 + (π − 1)²)/(2π) = 0.89 under the uniform one (c → ∞).
    assert float(jnp.mean(jnp.abs(focused[:, 0] - 1.0))) < 0.1
    assert float(jnp.mean(jnp.abs(uniform[:, 0] - 1.0))) > 0.5


def test_fits_the_heat_mode_to_a_few_percent():
    problem, exact = heat_problem()
    config = PINNConfig(steps=600, resample_every=200, width=24, n_collocation=256, pool=2048)
    model, losses = fit_coordinate_pinn(problem, config)
    assert losses.shape == (600,) and bool(jnp.all(jnp.isfinite(losses)))
    x, t = jnp.meshgrid(jnp.linspace(0, np.pi, 65), jnp.linspace(0, 1, 33), indexing="ij")
    x, t = x.ravel().astype(jnp.float32), t.ravel().astype(jnp.float32)
    prediction = jax.vmap(model)(x, t)
    truth = exact(t, x[:, None])
    assert float(jnp.linalg.norm(prediction - truth) / jnp.linalg.norm(truth)) < 0.03


def test_config_rejects_a_partial_round_and_a_small_pool():
    with pytest.raises(ValueError, match="multiple"):
        PINNConfig(steps=100, resample_every=30)
    with pytest.raises(ValueError, match="pool"):
        PINNConfig(n_collocation=512, pool=100)
