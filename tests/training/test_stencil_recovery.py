"""The objectives learn a known linear operator: the upwind stencil of 1D advection.

Data: ``u_t + c u_x = 0`` on a periodic grid, advanced by the first-order upwind scheme
``u_i ← γ u_{i−1} + (1 − γ) u_i`` (Courant number ``γ``), and observed with noise. A 2-tap
convolution ``(a, b)`` trained on these frames should recover ``(γ, 1 − γ)``. Noise in the inputs
biases a one-step least-squares fit towards zero (attenuation, ``a + b < 1``); unrolling ``k``
steps fits ``(a + b)^k`` instead, which cuts that bias, so the unrolled stencil lands closer.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from neuralpde.data.normalization import Normalization
from neuralpde.training.objectives import OneStep, Pushforward, Unrolled
from neuralpde.training.step import TrainStep, initial_health

COURANT = 0.4
UPWIND = np.array([COURANT, 1.0 - COURANT])


class TwoTap(nnx.Module):
    """``û_i = a u_{i−1} + b u_i``, periodic; input ``(batch, n, 1)``."""

    def __init__(self):
        self.w = nnx.Param(jnp.array([0.5, 0.5]))

    def __call__(self, u, conditioning=None):
        return self.w[0] * jnp.roll(u, 1, axis=1) + self.w[1] * u


def upwind_batches(key, n_batches, batch, n, k, noise):
    """``n_batches`` batches of one noisy input frame and ``k`` noisy future frames."""
    x = jnp.arange(n) / n
    keys = jax.random.split(key, 4)
    amplitudes = jax.random.normal(keys[0], (n_batches, batch, 4, 1))
    phases = jax.random.uniform(keys[1], (n_batches, batch, 4, 1)) * 2 * jnp.pi
    modes = jnp.arange(1, 5)[:, None]
    u = jnp.sum(amplitudes * jnp.sin(2 * jnp.pi * modes * x + phases), axis=-2)
    frames = [u]
    for _ in range(k):
        frames.append(COURANT * jnp.roll(frames[-1], 1, axis=-1) + (1 - COURANT) * frames[-1])
    clean = jnp.stack(frames, axis=2)[..., None]  # (n_batches, batch, 1 + k, n, 1)
    observed = clean + noise * jax.random.normal(keys[2], clean.shape)
    return [
        {"input": observed[i, :, :1], "target": observed[i, :, 1:],
         "trajectory": jnp.arange(batch)}
        for i in range(n_batches)
    ]


def train_stencil(objective, batches, steps=300):
    model = TwoTap()
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adam(0.02)
    opt_state = tx.init(params)
    health = initial_health(batches[0]["input"].shape[0])
    step = TrainStep(graphdef, rest, tx, objective, "mse", "state", seed=0)
    norm = Normalization.identity(["u"])
    for s in range(steps):
        length = objective.rollout_length(s, steps)
        params, opt_state, health, _ = step(
            params, opt_state, health, batches[s % len(batches)], norm, jnp.asarray(s), length
        )
    assert int(health["bad_step"]) == -1
    return np.asarray(params["w"][...])


@pytest.fixture(scope="module")
def noisy_batches():
    return upwind_batches(jax.random.key(0), 8, 32, 64, k=8, noise=0.3)


def test_one_step_recovers_the_upwind_stencil_from_clean_data():
    batches = upwind_batches(jax.random.key(1), 4, 16, 64, k=1, noise=0.0)
    w = train_stencil(OneStep(), batches)
    np.testing.assert_allclose(w, UPWIND, atol=2e-3)


def test_unrolling_brings_the_stencil_closer(noisy_batches):
    one_step = train_stencil(OneStep(), noisy_batches)
    unrolled = train_stencil(Unrolled(steps=8), noisy_batches)
    error_one, error_unrolled = (np.linalg.norm(w - UPWIND) for w in (one_step, unrolled))
    assert error_one < 0.15, one_step  # recovered, up to the noise's attenuation bias
    assert one_step.sum() < 1.0  # the bias has the predicted sign
    assert error_unrolled < 0.5 * error_one, (one_step, unrolled)


def test_truncated_unrolling_and_pushforward_and_curriculum_learn_it(noisy_batches):
    for objective in (
        Unrolled(steps=8, truncate=2),
        Pushforward(steps=4),
        Unrolled(steps=8, curriculum=(1, 4, 8)),
    ):
        w = train_stencil(objective, noisy_batches)
        assert np.linalg.norm(w - UPWIND) < 0.15, (objective, w)
