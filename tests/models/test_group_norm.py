"""The one-pass GroupNorm against its oracle, ``nnx.GroupNorm`` with the two-pass variance.

``GroupNorm`` must compute what ``nnx.GroupNorm`` computes from the same parameters, with the
gradient written out by hand equal to autodiff's through the oracle: round-off in float64. Its
statistics use shifted data, so a mean far larger than the spread must not cost the variance its
digits in float32, as the textbook one-pass ``E[x²] − E[x]²`` would.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from neuralpde.models._group_norm import GroupNorm


def _modules(channels, groups, dtype=jnp.float64):
    kw = dict(num_groups=groups, epsilon=1e-5, param_dtype=dtype, rngs=nnx.Rngs(0))
    oracle = nnx.GroupNorm(channels, use_fast_variance=False, **kw)
    ours = GroupNorm(channels, **kw)
    for module in (oracle, ours):  # not the initial γ = 1, β = 0, which hide mistakes
        module.scale[...] = 1 + 0.5 * jax.random.normal(jax.random.key(2), (channels,), dtype)
        module.bias[...] = jax.random.normal(jax.random.key(3), (channels,), dtype)
    return oracle, ours


def _loss(module, x, weight):
    return jnp.sum(jnp.sin(module(x)) * weight)


@pytest.mark.parametrize("shape, groups", [((3, 10, 8), 4), ((2, 6, 5, 12), 3),
                                           ((2, 6, 5, 12), 12), ((2, 6, 5, 12), 1),
                                           ((2, 3, 4, 5, 6), 2)])
def test_group_norm_is_flax_group_norm(shape, groups):
    with jax.enable_x64(True):
        oracle, ours = _modules(shape[-1], groups)
        # Per-channel offsets, so that the group statistics mix channels of different means.
        x = (2 * jax.random.normal(jax.random.key(1), shape, jnp.float64)
             + 3 + jnp.arange(shape[-1]))
        weight = jax.random.normal(jax.random.key(4), shape, jnp.float64)
        np.testing.assert_allclose(ours(x), oracle(x), rtol=0, atol=1e-13)
        grad = nnx.grad(_loss, argnums=(0, 1))
        (g_oracle, gx_oracle), (g_ours, gx_ours) = grad(oracle, x, weight), grad(ours, x, weight)
        np.testing.assert_allclose(gx_ours, gx_oracle, rtol=0, atol=1e-12)
        for name in ("scale", "bias"):
            np.testing.assert_allclose(getattr(g_ours, name)[...], getattr(g_oracle, name)[...],
                                       rtol=0, atol=1e-11)


def test_a_large_mean_keeps_the_variance_in_float32():
    """Mean 1e4, spread 1: ``E[x²] − E[x]²`` in float32 loses every digit (ulp(1e8) = 8); with
    the shifted sums the float32 result stays within 2e-3 of the float64 one, the size of
    float32's rounding of ``x − μ`` at 1e4 (ulp 1e-3) times ``γ r``."""
    shape = (2, 16, 16, 8)
    with jax.enable_x64(True):
        x64 = (1e4 + jax.random.normal(jax.random.key(5), shape)).astype(jnp.float64)
        oracle = _modules(8, 2)[0]
        exact = oracle(x64)
        scale, bias = (np.asarray(p[...], np.float32) for p in (oracle.scale, oracle.bias))
    x = x64.astype(jnp.float32)
    kw = dict(num_groups=2, epsilon=1e-5, rngs=nnx.Rngs(0))
    ours, fast = GroupNorm(8, **kw), nnx.GroupNorm(8, use_fast_variance=True, **kw)
    for module in (ours, fast):
        module.scale[...], module.bias[...] = scale, bias
    assert np.max(np.abs(np.asarray(ours(x)) - np.asarray(exact))) < 2e-3
    assert np.max(np.abs(np.asarray(fast(x)) - np.asarray(exact))) > 0.1  # the naive one fails


def test_bfloat16_activations_keep_their_dtype_and_float32_statistics():
    x = jax.random.normal(jax.random.key(6), (2, 8, 8, 16)) * 3 + 1
    ours = GroupNorm(16, num_groups=4, epsilon=1e-5, dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    reference = GroupNorm(16, num_groups=4, epsilon=1e-5, rngs=nnx.Rngs(0))(
        x.astype(jnp.bfloat16).astype(jnp.float32))
    y = ours(x)
    assert y.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(y, np.float32), reference, atol=0.05)
    grad = jax.grad(lambda x: jnp.sum(ours(x).astype(jnp.float32) ** 2))(x.astype(jnp.bfloat16))
    assert grad.dtype == jnp.bfloat16 and bool(jnp.all(jnp.isfinite(grad)))


@pytest.mark.parametrize("option", [dict(use_scale=False), dict(use_bias=False),
                                    dict(reduction_axes=(1, -1)), dict(axis_name="data")])
def test_options_it_does_not_compute_are_refused_by_name(option):
    with pytest.raises(ValueError, match=next(iter(option))):
        GroupNorm(8, num_groups=2, rngs=nnx.Rngs(0), **option)
