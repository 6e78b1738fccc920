"""SineNet: resampling against naive oracles, shift equivariance, paths, conditioning, errors."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cheap_models import apply, with_random_weights
from flax import nnx

from neuralpde.config import ConfigError
from neuralpde.models import SineNet, SineNetConfig
from neuralpde.models._resample import avg_pool2, bicubic_upsample2


@functools.cache
def sinenet(spatial_dims=1, **changes) -> SineNet:
    """Two waves of two halvings (sizes must be multiples of 4), widths 8, 12, 18.

    Weights are drawn by NumPy: see ``with_random_weights``.
    """
    options = dict(hidden_channels=8, waves=2, levels=2, channel_multiplier=1.5)
    options = dict(options, norm_groups=2, dtype=jnp.float64) | changes
    build = functools.partial(SineNet, 1, 2, spatial_dims=spatial_dims, **options)
    return with_random_weights(lambda rngs: build(rngs=rngs))


def relative(a, b) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def field(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def naive_bicubic(u: np.ndarray, periodic: bool) -> np.ndarray:
    """PyTorch's bicubic 2× upsampling (``align_corners=False``, a = −0.75), point by point."""

    def weight(t):
        t, a = abs(t), -0.75
        if t <= 1:
            return (a + 2) * t**3 - (a + 3) * t**2 + 1
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a if t < 2 else 0.0

    space = u.shape[1:-1]
    out = np.zeros((u.shape[0], *(2 * n for n in space), u.shape[-1]))
    for fine in itertools.product(*(range(2 * n) for n in space)):
        coarse = [(j + 0.5) / 2 - 0.5 for j in fine]
        nearest = [range(int(np.floor(x)) - 1, int(np.floor(x)) + 3) for x in coarse]
        for taps in itertools.product(*nearest):
            w = np.prod([weight(x - i) for x, i in zip(coarse, taps, strict=True)])
            pairs = zip(taps, space, strict=True)
            index = [i % n if periodic else min(max(i, 0), n - 1) for i, n in pairs]
            out[(slice(None), *fine)] += w * u[(slice(None), *index)]
    return out


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("shape", [(2, 6, 3), (1, 4, 5, 2)])
def test_resampling_matches_naive_oracles(shape, periodic):
    u = np.random.default_rng(0).normal(size=shape)
    fine = bicubic_upsample2(jnp.asarray(u), periodic=periodic)
    np.testing.assert_allclose(fine, naive_bicubic(u, periodic), rtol=0, atol=1e-13)


def test_average_pooling_averages_each_cell():
    u = np.random.default_rng(0).normal(size=(2, 8, 6, 3))
    naive = np.zeros((2, 4, 3, 3))
    for i, j in itertools.product(range(4), range(3)):
        naive[:, i, j] = u[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean(axis=(1, 2))
    np.testing.assert_allclose(avg_pool2(jnp.asarray(u)), naive, rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    ("spatial_dims", "shape", "shifts"),
    [(1, (2, 32, 1), [4, 8, -12]), (2, (2, 16, 12, 1), [(4, 8), (-8, 4)])],
)
def test_shifts_by_multiples_of_the_total_stride_commute(spatial_dims, shape, shifts):
    """Periodic convolutions and upsampling commute with every shift, but 2× average pooling
    turns a shift by s into one by s/2 only for even s. Two halvings per wave make shifts by
    multiples of 4 exact to round-off, and others fail."""
    n = 2 if spatial_dims == 2 else 0
    model = sinenet(spatial_dims, n_conditioning=n)
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
    model = sinenet(padding="zeros")
    u = field((2, 32, 1))
    assert apply(model, u).shape == (2, 32, 2)
    shifted = apply(model, np.roll(u, 8, axis=1))
    assert relative(shifted, np.roll(apply(model, u), 8, axis=1)) > 1e-3


def n_params(model) -> int:
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def test_parallel_path_and_wave_residuals_are_switchable():
    """The parallel path adds ``hidden`` inputs to the first conv of levels 2 … L of each wave."""
    build = functools.partial(SineNet, 1, 2, spatial_dims=1, hidden_channels=8, waves=2, levels=3)
    full = nnx.eval_shape(lambda: build(rngs=nnx.Rngs(0)))
    sequential = nnx.eval_shape(lambda: build(disentangle=False, rngs=nnx.Rngs(0)))
    widths = [int(8 * 1.425**level) for level in range(4)]
    parallel = sum(3 * 8 * c for c in widths[2:])  # 3-point kernels
    assert n_params(full) - n_params(sequential) == 2 * parallel
    u = field((2, 32, 1))
    assert relative(apply(sinenet(wave_residual=False), u), apply(sinenet(), u)) > 1e-3


def test_three_dimensional_shapes():
    """Shapes only, traced abstractly: compiling 3D convolutions on CPU is slow."""
    build = functools.partial(SineNet, 1, 2, spatial_dims=3, hidden_channels=4, waves=1)
    model = nnx.eval_shape(lambda: build(rngs=nnx.Rngs(0)))
    out = nnx.eval_shape(lambda m, u: m(u), model, jax.ShapeDtypeStruct((1, 16, 32, 48, 1), float))
    assert out.shape == (1, 16, 32, 48, 2)


def test_conditioning_changes_output_and_mismatch_raises():
    model = sinenet(2, n_conditioning=2)
    u, c = field((2, 16, 12, 1)), field((2, 2), seed=1)
    assert relative(apply(model, u, c), apply(model, u, c + 0.5)) > 1e-3
    with pytest.raises(ValueError, match=r"n_conditioning=2 and needs conditioning .*got None"):
        model(u)
    with pytest.raises(ValueError, match=r"\(batch, n_conditioning\) = \(2, 2\), got \(2, 3\)"):
        model(u, np.zeros((2, 3)))


@pytest.mark.parametrize(
    ("shape", "needle"),
    [
        ((2, 30, 1), r"halves the grid 2 times, so every spatial size must be divisible by 2\^2"),
        ((2, 8, 6, 1), r"expects input of shape \(batch, x, 1\), got \(2, 8, 6, 1\)"),
        ((2, 32, 3), r"expects input of shape \(batch, x, 1\), got \(2, 32, 3\)"),
    ],
)
def test_indivisible_resolution_and_wrong_shapes_raise(shape, needle):
    with pytest.raises(ValueError, match=needle):
        sinenet()(np.zeros(shape))


def test_bfloat16_activations_stay_close_and_return_float32():
    """Against the float64 model, which has the same float32 parameters (same seed)."""
    u = field((2, 32, 1), seed=3)
    reference = apply(sinenet(), u)
    low = apply(sinenet(dtype=jnp.bfloat16), u.astype(np.float32))
    assert low.dtype == np.float32 and np.all(np.isfinite(low))
    params = jax.tree.leaves(nnx.state(sinenet(dtype=jnp.bfloat16), nnx.Param))
    assert {p.dtype for p in params} == {jnp.dtype(jnp.float32)}
    # bfloat16 keeps about 3 significant digits; these nets lose about one more (1% seen).
    l2_error = np.linalg.norm(low - reference) / np.linalg.norm(reference)
    assert 0 < l2_error < 0.05, l2_error


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        (dict(norm_groups=2), r"norm_groups=2 must divide every width \(64, 91, 129, 185, 263\)"),
        (dict(channel_multiplier=0.01), "gives widths"),
        (dict(waves=0), "waves must be ≥ 1"),
        (dict(n_conditioning=-1), "n_conditioning must be ≥ 0"),
        (dict(padding="reflect"), "padding must be one of"),
    ],
)
def test_invalid_configs_raise(changes, needle):
    with pytest.raises(ConfigError, match=needle):
        SineNetConfig(in_channels=1, out_channels=1, **changes)
