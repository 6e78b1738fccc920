"""A small FNO learns the heat semigroup and keeps its accuracy zero-shot on a finer grid."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from models_helpers import band_limited, spectral_interpolate

from neuralpde.models import FNO


def heat_semigroup(u: np.ndarray, t: float) -> np.ndarray:
    """``exp(t ∂ₓₓ) u`` on ``[0, 2π)``: the multiplier ``exp(−t k²)`` on mode ``k``."""
    n = u.shape[1]
    k = np.fft.rfftfreq(n, 1 / n)
    spectrum = np.fft.rfft(u, axis=1) * np.exp(-t * k**2)[None, :, None]
    return np.fft.irfft(spectrum, n=n, axis=1)


def relative_l2(model, u, v):
    pred = model(u)
    return jnp.mean(jnp.linalg.norm(pred - v, axis=(1, 2)) / jnp.linalg.norm(v, axis=(1, 2)))


evaluate = nnx.jit(relative_l2)


def test_learns_heat_semigroup_and_generalises_to_finer_grid():
    t, n, kmax, steps = 0.05, 32, 5, 200
    rng = np.random.default_rng(0)
    u = band_limited(rng, 192, (n,), 1, kmax)
    v = heat_semigroup(u, t)
    train_u, train_v = jnp.asarray(u[:128], jnp.float32), jnp.asarray(v[:128], jnp.float32)
    test_u, test_v = u[128:], v[128:]

    model = FNO(1, 1, (6,), width=8, depth=2, use_grid=False, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.adam(optax.cosine_decay_schedule(1e-2, steps))

    def loss(params):
        return relative_l2(nnx.merge(graphdef, params), train_u, train_v)

    @jax.jit
    def train(params):
        def step(carry, _):
            params, state = carry
            value, grads = jax.value_and_grad(loss)(params)
            updates, state = tx.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), value

        (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), length=steps)
        return params, losses

    params, losses = train(params)
    assert losses[-1] < 0.05 * losses[0]
    trained = nnx.merge(graphdef, params)

    error = evaluate(trained, jnp.asarray(test_u, jnp.float32), jnp.asarray(test_v, jnp.float32))
    fine_u = spectral_interpolate(test_u, (2 * n,))
    fine_v = heat_semigroup(fine_u, t)
    fine_error = evaluate(
        trained, jnp.asarray(fine_u, jnp.float32), jnp.asarray(fine_v, jnp.float32)
    )
    assert error < 0.05, error
    assert fine_error < 2 * error + 1e-3, (error, fine_error)
