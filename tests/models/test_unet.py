"""UNet: shift equivariance on the stride lattice, padding, conditioning, dtypes, shape errors."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cheap_models import apply, with_random_weights
from flax import nnx

from neuralpde.config import ConfigError
from neuralpde.models import UNet, UNetConfig


@functools.cache
def unet(spatial_dims=1, **changes) -> UNet:
    """Three levels, so the grid is halved twice and sizes must be multiples of 4.

    Weights are drawn by NumPy: see ``with_random_weights``.
    """
    options = dict(hidden_channels=8, channel_multipliers=(1, 2, 2), blocks_per_level=1)
    options = dict(options, norm_groups=4, attention_middle=True, dtype=jnp.float64) | changes
    return with_random_weights(
        lambda rngs: UNet(1, 2, spatial_dims=spatial_dims, **options, rngs=rngs)
    )


def relative(a, b) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def field(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


@pytest.mark.parametrize(
    ("spatial_dims", "shape", "shifts"),
    [(1, (2, 32, 1), [4, 8, -12]), (2, (2, 16, 12, 1), [(4, 8), (-8, 4)])],
)
def test_shifts_by_multiples_of_the_total_stride_commute(spatial_dims, shape, shifts):
    """Circular padding makes every layer commute with shifts, but a stride-2 conv turns a shift
    by s into one by s/2 only for even s (an odd shift moves its sampling lattice). Two
    halvings make shifts by multiples of 4 exact to round-off, and others fail."""
    n = 2 if spatial_dims == 2 else 0
    model = unet(spatial_dims, n_conditioning=n)
    u, c = field(shape), (field((shape[0], n), seed=1) if n else None)
    axes = tuple(range(1, spatial_dims + 1))
    reference = apply(model, u, c)
    for shift in shifts:
        shifted = apply(model, np.roll(u, shift, axis=axes), c)
        assert relative(shifted, np.roll(reference, shift, axis=axes)) < 1e-12, shift
    for off_lattice in [1, 2, 6]:
        shifted = apply(model, np.roll(u, off_lattice, axis=1), c)
        assert relative(shifted, np.roll(reference, off_lattice, axis=1)) > 1e-3


def test_zero_padding_breaks_shift_equivariance():
    model = unet(padding="zeros")
    u = field((2, 32, 1))
    assert apply(model, u).shape == (2, 32, 2)
    shifted = apply(model, np.roll(u, 8, axis=1))
    assert relative(shifted, np.roll(apply(model, u), 8, axis=1)) > 1e-3


def test_three_dimensional_shapes():
    """Shapes only, traced abstractly: compiling 3D convolutions on CPU is slow."""
    model = nnx.eval_shape(lambda: UNet(1, 2, spatial_dims=3, hidden_channels=8, rngs=nnx.Rngs(0)))
    out = nnx.eval_shape(lambda m, u: m(u), model, jax.ShapeDtypeStruct((1, 8, 16, 24, 1), float))
    assert out.shape == (1, 8, 16, 24, 2)


def test_conditioning_changes_output_and_mismatch_raises():
    model = unet(2, n_conditioning=2)
    u, c = field((2, 16, 12, 1)), field((2, 2), seed=1)
    assert relative(apply(model, u, c), apply(model, u, c + 0.5)) > 1e-3
    with pytest.raises(ValueError, match=r"n_conditioning=2 and needs conditioning .*got None"):
        model(u)
    with pytest.raises(ValueError, match=r"\(batch, n_conditioning\) = \(2, 2\), got \(2, 3\)"):
        model(u, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="n_conditioning=0 but received conditioning"):
        unet()(np.zeros((2, 32, 1)), np.zeros((2, 2)))


@pytest.mark.parametrize("shape", [(2, 30, 1), (2, 34, 1), (2, 0, 1)])
def test_indivisible_resolution_names_the_divisor(shape):
    with pytest.raises(ValueError, match=r"divisible by 2\^2 = 4; got spatial shape") as info:
        unet()(np.zeros(shape))
    assert f"({shape[1]},)" in str(info.value)


@pytest.mark.parametrize("shape", [(2, 32, 2), (2, 32, 32, 1), (32, 1)])
def test_wrong_input_shapes_raise(shape):
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, x, 1\), got"):
        unet()(np.zeros(shape))


def test_bfloat16_activations_stay_close_and_return_float32():
    """Against the float64 model, which has the same float32 parameters (same seed)."""
    u = field((2, 32, 1), seed=3)
    reference = apply(unet(), u)
    low = apply(unet(dtype=jnp.bfloat16), u.astype(np.float32))
    assert low.dtype == np.float32 and np.all(np.isfinite(low))
    params = jax.tree.leaves(nnx.state(unet(dtype=jnp.bfloat16), nnx.Param))
    assert {p.dtype for p in params} == {jnp.dtype(jnp.float32)}
    # bfloat16 keeps about 3 significant digits; these nets lose about one more (1% seen).
    l2_error = np.linalg.norm(low - reference) / np.linalg.norm(reference)
    assert 0 < l2_error < 0.05, l2_error


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        (dict(norm_groups=3), "norm_groups=3 must divide hidden_channels=8"),
        (dict(channel_multipliers=()), "channel_multipliers"),
        (dict(spatial_dims=4), "spatial_dims must be 1, 2 or 3"),
        (dict(blocks_per_level=0), "blocks_per_level must be ≥ 1"),
        (dict(padding="reflect"), "padding must be one of"),
    ],
)
def test_invalid_configs_raise(changes, needle):
    options = dict(in_channels=1, out_channels=1, hidden_channels=8, norm_groups=4)
    with pytest.raises(ConfigError, match=needle):
        UNetConfig(**(options | changes))
