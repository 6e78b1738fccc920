"""Rollout metrics against closed forms, naive oracles and the reference implementations."""

import functools
import inspect
import math
import types
import typing

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import jaxtyped

from neuralpde._typing import Array, Float
from neuralpde.evaluation import metrics, spectra

RAW = [
    metrics.relative_l2,
    metrics.trajectory_relative_l2,
    metrics.nrmse,
    metrics.vrmse,
    metrics.pearson_correlation,
    metrics.mass_drift,
    metrics.energy_drift,
    metrics.blowup_step,
    spectra.energy_spectrum_error,
]
# The closed-form tests call the metrics jitted: one compilation each, where eager mode compiles
# every operation. test_jit_matches_eager_and_annotations_hold runs the raw functions eagerly.
(
    relative_l2,
    trajectory_relative_l2,
    nrmse,
    vrmse,
    pearson_correlation,
    mass_drift,
    energy_drift,
    blowup_step,
    energy_spectrum_error,
) = map(jax.jit, RAW)
energy, energy_spectrum, correlation_time = map(
    jax.jit, [metrics.energy, spectra.energy_spectrum, metrics.correlation_time]
)
steps_to_time = metrics.steps_to_time
SHAPES = {"1d": (2, 3, 16, 2), "2d": (2, 3, 8, 12, 2)}


def random_pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    true = rng.normal(size=shape) + 0.3
    pred = true + 0.4 * rng.normal(size=shape)
    return jnp.asarray(pred), jnp.asarray(true)


def checked(function):
    """The function with its array annotations checked at run time, axis sizes bound per call."""
    hints = typing.get_type_hints(function)
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with jaxtyped("context"):
            for name, value in signature.bind(*args, **kwargs).arguments.items():
                if isinstance(value, jax.Array):
                    assert isinstance(value, hints[name]), (name, value.shape, hints[name])
            out = function(*args, **kwargs)
            assert isinstance(out, hints["return"]), (out.shape, out.dtype, hints["return"])
        return out

    return wrapper


def periodic_modes(n, *modes):
    """``sin(2π m·x)`` and ``cos(2π m·x)`` on ``[0, 1)^d`` with ``n`` points per side."""
    axes = np.meshgrid(*[np.arange(n) / n] * len(modes), indexing="ij")
    phase = 2 * np.pi * sum(m * x for m, x in zip(modes, axes, strict=True))
    return np.sin(phase), np.cos(phase)


def as_trajectory(frames):
    """Stack frames ``(*space)`` into one sample with one channel: ``(1, time, *space, 1)``."""
    return jnp.asarray(np.stack(frames)[None, ..., None])


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_scaled_prediction_has_relative_error_a(dims):
    _, true = random_pair(SHAPES[dims])
    a = jnp.asarray([-0.25, 0.1])[:, None]  # one factor per sample
    pred = (1 + a.reshape(2, *[1] * (true.ndim - 1))) * true
    np.testing.assert_allclose(
        relative_l2(pred, true), np.broadcast_to(np.abs(a), (2, 3)), rtol=1e-13
    )
    np.testing.assert_allclose(trajectory_relative_l2(pred, true), [0.25, 0.1], rtol=1e-13)


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_relative_l2_matches_naive_loop(dims):
    pred, true = map(np.asarray, random_pair(SHAPES[dims], seed=1))
    batch, time = true.shape[:2]
    expected = [
        [
            np.linalg.norm((pred[b, t] - true[b, t]).ravel()) / np.linalg.norm(true[b, t])
            for t in range(time)
        ]
        for b in range(batch)
    ]
    np.testing.assert_allclose(relative_l2(pred, true), expected, rtol=1e-13)
    whole = [np.linalg.norm(pred[b] - true[b]) / np.linalg.norm(true[b]) for b in range(batch)]
    np.testing.assert_allclose(trajectory_relative_l2(pred, true), whole, rtol=1e-13)
    # The whole-trajectory error weights steps by their norm: it is not the mean of the steps.
    assert not np.allclose(whole, np.mean(expected, axis=1))


def test_nrmse_on_hand_computed_arrays():
    # Two points, two channels: channel 0 gives sqrt(0.5) / sqrt(12.5) = 0.2, channel 1 gives 1.
    true = jnp.asarray([[3.0, 1.0], [4.0, 1.0]])[None, None]
    pred = jnp.asarray([[3.0, 2.0], [5.0, 0.0]])[None, None]
    np.testing.assert_allclose(nrmse(pred, true), [[0.6]], rtol=1e-14)


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_nrmse_matches_pdebench_formula(dims):
    """PDEBench's ``err_nMSE`` before its batch mean, in its (batch, channel, -1, time) layout."""
    pred, true = map(np.asarray, random_pair(SHAPES[dims], seed=2))
    nb, nt, nc = true.shape[0], true.shape[1], true.shape[-1]

    def pdebench_layout(x):  # (batch, time, *space, c) -> (batch, c, space, time)
        return np.moveaxis(np.moveaxis(x, 1, -2), -1, 1).reshape(nb, nc, -1, nt)

    p, u = pdebench_layout(pred), pdebench_layout(true)
    err = np.sqrt(np.mean((p - u) ** 2, axis=2)) / np.sqrt(np.mean(u**2, axis=2))  # (b, c, t)
    np.testing.assert_allclose(nrmse(pred, true), err.mean(axis=1), rtol=1e-13)


def test_vrmse_on_hand_computed_arrays():
    # Truth (1, 3): mean 2, unbiased variance 2. Error 1 everywhere: MSE 1.
    true = jnp.asarray([[1.0], [3.0]])[None, None]
    np.testing.assert_allclose(vrmse(true + 1, true), [[[math.sqrt(1 / (2 + 1e-7))]]], rtol=1e-14)
    # A constant truth has no variance: the eps alone scales the error.
    flat = jnp.ones_like(true)
    np.testing.assert_allclose(vrmse(flat + 0.5, flat), [[[math.sqrt(0.25 / 1e-7)]]], rtol=1e-12)
    np.testing.assert_allclose(
        vrmse(flat + 0.5, flat, eps=1e-3), [[[math.sqrt(250.0)]]], rtol=1e-12
    )


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_vrmse_matches_the_well(dims):
    pytest.importorskip(
        "the_well", reason="The Well is not installed: pip install -e '.[interop]' to compare"
    )
    torch = pytest.importorskip("torch")
    from the_well.benchmark.metrics import VRMSE

    pred, true = map(np.array, random_pair(SHAPES[dims], seed=3))
    true[0, 1, ..., 1] = 0.7  # a constant channel exercises the eps
    meta = types.SimpleNamespace(n_spatial_dims=true.ndim - 3)
    theirs = VRMSE.eval(torch.from_numpy(pred), torch.from_numpy(true), meta).numpy()
    assert theirs.shape == true.shape[:2] + true.shape[-1:]
    np.testing.assert_allclose(vrmse(pred, true), theirs, rtol=1e-12)


# ---------------------------------------------------------------- correlation


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_correlation_closed_forms(dims):
    _, true = random_pair(SHAPES[dims])
    ones = np.ones(true.shape[:2])
    np.testing.assert_allclose(pearson_correlation(1.7 * true, true), ones, rtol=1e-13)
    np.testing.assert_allclose(pearson_correlation(true + 5.0, true), ones, rtol=1e-13)
    np.testing.assert_allclose(pearson_correlation(-true, true), -ones, rtol=1e-13)
    assert correlation_time(pearson_correlation(-true, true)).tolist() == [0, 0]
    assert correlation_time(pearson_correlation(1.7 * true, true)).tolist() == [3, 3]
    np.testing.assert_array_equal(pearson_correlation(jnp.zeros_like(true), true), 0 * ones)


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_correlation_matches_numpy_corrcoef(dims):
    pred, true = map(np.asarray, random_pair(SHAPES[dims], seed=4))
    expected = [
        [np.corrcoef(pred[b, t].ravel(), true[b, t].ravel())[0, 1] for t in range(true.shape[1])]
        for b in range(true.shape[0])
    ]
    np.testing.assert_allclose(pearson_correlation(pred, true), expected, rtol=1e-12)


def test_rotating_prediction_loses_correlation_at_known_step():
    """``p_t = cos θ_t u + sin θ_t v``, ``u ⟂ v`` of zero mean and equal norm: ``ρ_t = cos θ_t``."""
    v, u = periodic_modes(16, 2, 1)
    theta = np.arange(8) * 0.15
    pred = as_trajectory([np.cos(a) * u + np.sin(a) * v for a in theta])
    true = as_trajectory([u] * len(theta))
    rho = pearson_correlation(pred, true)
    np.testing.assert_allclose(rho, np.cos(theta)[None], rtol=1e-12)
    # cos(0.3) = 0.955 > 0.95 > cos(0.45) = 0.900; cos(0.6) = 0.825 > 0.8 > cos(0.75) = 0.732.
    assert correlation_time(rho, 0.95).tolist() == [3]
    assert correlation_time(rho, 0.8).tolist() == [5]
    assert correlation_time(rho, 0.4).tolist() == [8]  # never drops: the horizon


def test_correlation_time_counts_the_first_drop_per_sample():
    rho = jnp.asarray(
        [
            [1.0, 0.99, 0.9, 0.85, 0.7, 0.96],
            [0.97, 0.96, 0.95, 0.95, 0.81, 0.8],
            [0.9, 1.0, 1.0, 1.0, 1.0, 1.0],
            [1.0, 1.0, jnp.nan, 1.0, 1.0, 1.0],
        ]
    )
    assert correlation_time(rho, 0.95).tolist() == [2, 4, 0, 2]
    assert correlation_time(rho, 0.8).tolist() == [4, 6, 6, 2]
    assert correlation_time(rho.mean(0), 0.8).tolist() == 2  # the NaN reaches the mean
    np.testing.assert_allclose(steps_to_time(jnp.asarray([2, 4, 0]), 0.25), [0.5, 1.0, 0.0])


# ---------------------------------------------------------------- drift and blow-up


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_drift_closed_forms(dims):
    _, true = random_pair(SHAPES[dims])
    shift = jnp.asarray([0.5, -2.0])  # one per channel
    np.testing.assert_allclose(
        mass_drift(true + shift, true), np.broadcast_to(shift, (2, 3, 2)), atol=1e-14
    )
    np.testing.assert_allclose(energy_drift(1.1 * true, true), np.full((2, 3), 0.21), rtol=1e-12)
    np.testing.assert_allclose(energy_drift(true, true), np.zeros((2, 3)), atol=0)


def test_energy_of_a_sine_pair():
    s, c = periodic_modes(8, 1, 3)
    u = jnp.asarray(np.stack([3 * s, 4 * c], axis=-1)[None, None])  # ½ (9/2 + 16/2) = 25/4
    np.testing.assert_allclose(energy(u), [[6.25]], rtol=1e-14)
    np.testing.assert_allclose(mass_drift(u + 1.0, u), [[[1.0, 1.0]]], rtol=1e-14)


def test_blowup_step():
    _, true = random_pair((3, 6, 8, 8, 2))
    largest = int(np.argmax(np.sum(np.asarray(true[1]) ** 2, axis=(1, 2, 3))))
    pred = np.array(true)
    pred[0, 4, 3, 5, 1] = np.nan  # NaN injected at step 4
    pred[0, 5] = np.inf
    pred[1, 2] = 9 * np.asarray(true[1, largest])  # large, but below the ceiling
    pred[1, 3] = 11 * np.asarray(true[1, largest])  # above 10 max_t ‖u_t‖
    pred = jnp.asarray(pred)
    assert blowup_step(pred, true).tolist() == [4, 3, 6]
    assert blowup_step(pred, true, factor=8.0).tolist() == [4, 2, 6]
    assert blowup_step(pred, true, factor=1e6).tolist() == [4, 6, 6]
    assert blowup_step(pred.at[2, 0, 0, 0, 0].set(-jnp.inf), true).tolist() == [4, 3, 0]


def test_blowup_step_at_exact_factor():
    """A prediction of norm ``f · max‖u‖`` is not blown up; anything above is."""
    u, _ = periodic_modes(8, 1, 0)
    true = as_trajectory([u, 2 * u, u, u])
    pred = as_trajectory([u, 20 * u, 20.5 * u, u])
    assert blowup_step(pred, true).tolist() == [2]
    assert blowup_step(pred, true, factor=9.0).tolist() == [1]
    assert blowup_step(true, true).tolist() == [4]


# ---------------------------------------------------------------- spectra


def test_spectrum_of_a_2d_sine_peaks_at_its_shell():
    s, _ = periodic_modes(16, 3, 4)  # |m| = 5
    spectrum = np.asarray(energy_spectrum(as_trajectory([2.0 * s])))[0, 0]
    assert spectrum.shape == (round(8 * math.sqrt(2)) + 1,)
    assert spectrum.argmax() == 5
    np.testing.assert_allclose(spectrum[5], 1.0, rtol=1e-13)  # A² / 4
    np.testing.assert_allclose(np.delete(spectrum, 5), 0.0, atol=1e-28)


def test_spectrum_in_1d_is_the_mode_power():
    _, c = periodic_modes(32, 5)
    spectrum = np.asarray(energy_spectrum(as_trajectory([3.0 * c])))[0, 0]
    assert spectrum.shape == (17,)
    np.testing.assert_allclose(spectrum[5], 9.0 / 4, rtol=1e-13)
    pred, _ = random_pair((2, 3, 32, 2), seed=5)
    power = np.sum(np.abs(np.fft.rfft(np.asarray(pred), axis=2)) ** 2, axis=-1) / 32**2
    spectrum = np.asarray(energy_spectrum(pred))
    np.testing.assert_allclose(
        spectrum[..., 1:16], np.moveaxis(power, 2, -1)[..., 1:16], rtol=1e-12
    )


@pytest.mark.parametrize("space", [(8, 12), (9, 6), (10, 10)])
def test_spectrum_matches_naive_shell_sum_and_parseval(space):
    pred, _ = random_pair((2, 2, *space, 3), seed=6)
    u = np.asarray(pred)
    full = np.sum(np.abs(np.fft.fftn(u, axes=(2, 3))) ** 2, axis=-1) / (2 * math.prod(space) ** 2)
    ours = np.asarray(energy_spectrum(pred))
    naive = np.zeros_like(ours)
    for i, mx in enumerate(np.fft.fftfreq(space[0], 1 / space[0])):
        for j, my in enumerate(np.fft.fftfreq(space[1], 1 / space[1])):
            naive[..., math.floor(math.hypot(mx, my) + 0.5)] += full[..., i, j]
    np.testing.assert_allclose(ours, naive, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.sum(-1), energy(pred), rtol=1e-12)


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_spectrum_error_closed_forms(dims):
    pred, true = random_pair(SHAPES[dims], seed=7)
    np.testing.assert_allclose(energy_spectrum_error(true, true), np.zeros((2, 3)), atol=1e-14)
    np.testing.assert_allclose(
        energy_spectrum_error(0.5 * true, true), np.full((2, 3), 2 * math.log(2)), rtol=1e-12
    )
    assert np.all(np.asarray(energy_spectrum_error(pred, true)) > 0)


def test_spectrum_error_counts_only_shells_the_truth_fills():
    s, c = periodic_modes(16, 3, 4)
    true = as_trajectory([2.0 * s, 2.0 * s])
    pred = as_trajectory([3.0 * s, 2.0 * s + 0.5 * c])  # shell 5: energy 9/4 and 17/16 against 1
    np.testing.assert_allclose(
        energy_spectrum_error(pred, true), [[2 * math.log(1.5), math.log(4.25 / 4)]], rtol=1e-12
    )
    # A prediction that empties a shell the truth fills is infinitely wrong.
    assert np.isinf(energy_spectrum_error(jnp.zeros_like(true), true)).all()


# ---------------------------------------------------------------- contract


@pytest.mark.parametrize("metric", RAW, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_jit_matches_eager_and_annotations_hold(metric, dims):
    pred, true = random_pair(SHAPES[dims], seed=8)
    jitted = checked(jax.jit(metric))(pred, true)
    if dims == "2d":  # eager mode compiles every operation anew: one shape is enough
        np.testing.assert_allclose(jitted, checked(metric)(pred, true), rtol=1e-13)
    batched = jax.jit(jax.vmap(metric, in_axes=1, out_axes=1))(pred[:, :, None], true[:, :, None])
    if metric not in (metrics.trajectory_relative_l2, metrics.blowup_step):
        np.testing.assert_allclose(batched[:, :, 0], jitted, rtol=1e-13)


@pytest.mark.parametrize("metric", RAW, ids=lambda f: f.__name__)
def test_float32_stays_float32(metric):
    pred, true = random_pair(SHAPES["2d"], seed=9)
    out = jax.jit(metric)(pred.astype(jnp.float32), true.astype(jnp.float32))
    assert out.dtype in (jnp.float32, jnp.int32)


def test_single_function_contracts():
    pred, true = random_pair(SHAPES["2d"], seed=10)
    assert checked(metrics.energy)(true).shape == (2, 3)
    n_shells = round(math.hypot(4, 6)) + 1
    assert checked(spectra.energy_spectrum)(true).shape == (2, 3, n_shells)
    rho = checked(metrics.pearson_correlation)(pred, true)
    steps = checked(metrics.correlation_time)(rho, 0.9)
    assert steps.dtype == jnp.int32
    assert steps.tolist() == correlation_time(rho, 0.9).tolist()
    assert checked(metrics.steps_to_time)(steps, 0.5).tolist() == (0.5 * steps).tolist()


def test_annotation_checker_rejects_a_wrong_shape():
    def per_step(pred: metrics.Trajectory) -> Float[Array, "batch time"]:
        return pred[..., 0, 0]  # (batch, time, x): one axis too many

    with pytest.raises(AssertionError):
        checked(per_step)(random_pair(SHAPES["2d"])[0])


@pytest.mark.parametrize("metric", RAW, ids=lambda f: f.__name__)
def test_layout_errors(metric):
    pred, true = random_pair(SHAPES["2d"])
    with pytest.raises(ValueError, match="differ in shape"):
        metric(pred, true[:, :, :4])
    with pytest.raises(ValueError, match="at least one space axis"):
        metric(pred[:, :, 0, 0], true[:, :, 0, 0])


def test_spectrum_error_needs_a_resolved_shell():
    pred, true = random_pair((1, 2, 3, 8, 1))
    with pytest.raises(ValueError, match="at least 4 points"):
        energy_spectrum_error(pred, true)
