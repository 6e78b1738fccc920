"""SpectralConv against a naive loop oracle, and its discretisation invariance."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from models_helpers import band_limited, naive_spectral_conv, spectral_interpolate

from neuralpde.models import SpectralConv
from neuralpde.models.spectral_conv import kept_shape

apply = nnx.jit(lambda layer, x: layer(x))


@pytest.mark.parametrize(
    ("space", "modes", "n_in", "n_out"),
    [
        ((16,), (5,), 2, 3),
        ((10, 12), (5, 4), 2, 3),  # n = 2m on axis 0: the −m mode is the Nyquist mode
        ((8, 6, 8), (2, 3, 3), 2, 2),
    ],
)
def test_matches_naive_oracle(space, modes, n_in, n_out):
    """To round-off in float32 and float64 (float32 weights are exact in float64)."""
    layer = SpectralConv(n_in, n_out, modes, rngs=nnx.Rngs(0))
    assert layer.weight_real.shape == (*kept_shape(modes), n_in, n_out)
    weight = np.asarray(layer.weight_real[...], np.float64) + 1j * np.asarray(
        layer.weight_imag[...], np.float64
    )
    x = np.random.default_rng(1).normal(size=(2, *space, n_in))
    for dtype, rtol in [(np.float32, 1e-5), (np.float64, 1e-12)]:
        out = apply(layer, jnp.asarray(x, dtype))
        assert out.dtype == dtype and out.shape == (2, *space, n_out)
        expected = naive_spectral_conv(x.astype(dtype).astype(np.float64), weight, modes)
        error = np.max(np.abs(np.asarray(out, np.float64) - expected)) / np.max(np.abs(expected))
        assert error < rtol, (dtype, error)


@pytest.mark.parametrize(
    ("coarse", "fine", "modes"), [((32,), (64,), (5,)), ((16, 20), (32, 40), (5, 4))]
)
def test_commutes_with_spectral_interpolation(coarse, fine, modes):
    """On a band-limited input the layer is exactly discretisation-invariant."""
    layer = SpectralConv(2, 3, modes, rngs=nnx.Rngs(2))
    u_coarse = band_limited(np.random.default_rng(3), 2, coarse, 2, kmax=min(coarse) // 2 - 1)
    u_fine = spectral_interpolate(u_coarse, fine)
    out_coarse = np.asarray(apply(layer, jnp.asarray(u_coarse)))
    out_fine = np.asarray(apply(layer, jnp.asarray(u_fine)))
    np.testing.assert_allclose(spectral_interpolate(out_coarse, fine), out_fine, atol=1e-12)
    every_other = (slice(None), *(slice(None, None, 2),) * len(fine))
    np.testing.assert_allclose(out_fine[every_other], out_coarse, atol=1e-12)


def test_bfloat16_input_keeps_dtype_and_fft_in_float32():
    layer = SpectralConv(2, 3, (5, 4), rngs=nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 16, 20, 2)), jnp.float32)
    out = apply(layer, x.astype(jnp.bfloat16))
    assert out.dtype == jnp.bfloat16
    reference = apply(layer, x)
    assert jnp.max(jnp.abs(out.astype(jnp.float32) - reference)) < 0.05 * jnp.max(abs(reference))


@pytest.mark.parametrize(
    ("shape", "needle"),
    [((2, 16, 3), "got (2, 16, 3)"), ((2, 16, 16, 2), "got (2, 16, 16, 2)"), ((2, 9, 2), "≥10")],
)
def test_wrong_shapes_raise(shape, needle):
    layer = SpectralConv(2, 3, (5,), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="expects input of shape") as info:
        layer(jnp.zeros(shape))
    assert needle in str(info.value)


@pytest.mark.parametrize("modes", [4, (), (0, 3), (2.0,), (True,)])
def test_bad_modes_raise(modes):
    with pytest.raises(ValueError, match="modes"):
        SpectralConv(1, 1, modes, rngs=nnx.Rngs(0))


@pytest.mark.parametrize(("space", "modes"), [((12,), (4,)), ((10, 8), (3, 3))])
def test_gradients_match_finite_differences(space, modes):
    """The hand-written backward pass of the truncated DFT, against numerical derivatives."""
    from jax.test_util import check_grads

    layer = SpectralConv(2, 2, modes, param_dtype=jnp.float64, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(layer)
    x = jnp.asarray(np.random.default_rng(4).normal(size=(2, *space, 2)))

    def f(params, x):
        return nnx.merge(graphdef, params)(x)

    check_grads(f, (params, x), order=1, modes=["rev"], atol=1e-7, rtol=1e-7)
