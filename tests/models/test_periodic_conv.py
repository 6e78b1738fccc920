"""The fast periodic convolutions against their oracles, flax's circularly padded modules.

``PeriodicConv`` and ``PeriodicUpsample`` must compute exactly what ``nnx.Conv`` and
``nnx.ConvTranspose`` compute with ``padding="CIRCULAR"``, from the same parameters, and their
hand-written gradients must equal autodiff's through the oracle. In float64 the differences are
round-off; the custom GELU is checked the same way against ``jax.nn.gelu``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from neuralpde.models._conv_layers import gelu
from neuralpde.models._periodic_conv import PeriodicConv, PeriodicUpsample

F64 = dict(param_dtype=jnp.float64)


def _loss(module, x):
    return jnp.sum(jnp.sin(module(x)) * jnp.arange(1.0, 1 + module(x).shape[-1]))


def _agree(oracle, ours, x):
    """Same parameters, outputs and gradients (in the input and every parameter)."""
    for a, b in zip(jax.tree.leaves(nnx.state(oracle, nnx.Param)),
                    jax.tree.leaves(nnx.state(ours, nnx.Param)), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(ours(x), oracle(x), rtol=0, atol=1e-13)
    grad = nnx.grad(_loss, argnums=(0, 1))
    (g_oracle, gx_oracle), (g_ours, gx_ours) = grad(oracle, x), grad(ours, x)
    np.testing.assert_allclose(gx_ours, gx_oracle, rtol=0, atol=1e-12)
    for a, b in zip(jax.tree.leaves(nnx.state(g_oracle, nnx.Param)),
                    jax.tree.leaves(nnx.state(g_ours, nnx.Param)), strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-11)


@pytest.mark.parametrize("n_dims, space", [(1, (12,)), (2, (8, 12))])
@pytest.mark.parametrize("kernel, stride", [(3, 1), (3, 2), (1, 1), (4, 2), (2, 2), (5, 1)])
def test_periodic_conv_is_flax_circular_conv(n_dims, space, kernel, stride):
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(1), (2, *space, 3), jnp.float64)
        padding = "CIRCULAR" if kernel > 1 else "VALID"
        oracle = nnx.Conv(3, 5, (kernel,) * n_dims, strides=stride, padding=padding,
                          rngs=nnx.Rngs(0), **F64)
        _agree(oracle, PeriodicConv(3, 5, n_dims, kernel, stride, rngs=nnx.Rngs(0), **F64), x)


@pytest.mark.parametrize("n_dims, space", [(1, (6,)), (2, (4, 6))])
def test_periodic_upsample_is_flax_circular_transposed_conv(n_dims, space):
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(2), (2, *space, 3), jnp.float64)
        oracle = nnx.ConvTranspose(3, 5, (4,) * n_dims, 2, padding="CIRCULAR",
                                   rngs=nnx.Rngs(0), **F64)
        ours = PeriodicUpsample(3, 5, n_dims, rngs=nnx.Rngs(0), **F64)
        assert ours(x).shape == (2, *(2 * n for n in space), 5)
        _agree(oracle, ours, x)


def test_periodic_conv_commutes_with_shifts_and_rejects_other_strides():
    conv = PeriodicConv(2, 2, 2, 3, 2, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(3), (1, 8, 8, 2))
    np.testing.assert_allclose(conv(jnp.roll(x, (2, -4), (1, 2))),
                               jnp.roll(conv(x), (1, -2), (1, 2)), atol=1e-6)
    with pytest.raises(ValueError, match="stride must be 1 or 2"):
        PeriodicConv(2, 2, 2, 3, 3, rngs=nnx.Rngs(0))


def test_gelu_and_its_gradient_are_the_exact_gelu():
    with jax.enable_x64(True):
        h = jnp.linspace(-9.0, 9.0, 1001, dtype=jnp.float64)
        exact = jax.nn.gelu(h, approximate=False)
        np.testing.assert_allclose(gelu(h), exact, rtol=0, atol=4e-15)
        np.testing.assert_allclose(jax.vmap(jax.grad(gelu))(h),
                                   jax.vmap(jax.grad(lambda t: jax.nn.gelu(t, False)))(h),
                                   rtol=0, atol=1e-14)
