"""Rollout evaluation against exact answers: an exact heat emulator, persistence, blow-up."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from evaluation_helpers import (
    CHANNELS,
    DT,
    exact_heat_model,
    heat_normalization,
    write_heat_file,
)
from flax import nnx

from neuralpde.data.normalization import Normalization
from neuralpde.evaluation import evaluate_rollouts
from neuralpde.evaluation.metrics import blowup_step, pearson_correlation
from neuralpde.models import FNO

C = len(CHANNELS)
PER_STEP = ("relative_l2", "nrmse", "vrmse", "correlation", "spectrum_error", "mass_drift",
            "energy_drift")


@pytest.fixture(scope="module")
def heat(tmp_path_factory):
    """Two files: 5 and 3 trajectories of 8 frames at 16², and 2 trajectories at 32²."""
    root = tmp_path_factory.mktemp("heat")
    a, nu_a = write_heat_file(root / "a.hdf5", n=5, seed=0)
    b, nu_b = write_heat_file(root / "b.hdf5", n=3, seed=1)
    write_heat_file(root / "fine.hdf5", n=2, resolution=32, seed=2)
    return {"files": [root / "a.hdf5", root / "b.hdf5"], "fine": root / "fine.hdf5",
            "fields": np.concatenate([a, b]), "nu": np.concatenate([nu_a, nu_b])}


def persistence_model(u, conditioning):
    return u[..., -C:]


def times_ten_model(u, conditioning):
    return 10.0 * u[..., -C:]


def evaluate(model, files, **kwargs):
    kwargs.setdefault("history", 2)
    kwargs.setdefault("parameters", ("diffusivity",))
    normalization = kwargs.pop("normalization", heat_normalization(kwargs["parameters"]))
    return evaluate_rollouts(model, normalization, files, **kwargs)


def assert_same_metrics(a, b, rtol=1e-6):
    for name in PER_STEP:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(a.trajectory_relative_l2, b.trajectory_relative_l2, rtol=rtol)
    np.testing.assert_array_equal(a.blowup_step, b.blowup_step)
    for t in a.correlation_steps:
        np.testing.assert_array_equal(a.correlation_steps[t], b.correlation_steps[t])


@pytest.fixture(scope="module")
def exact_runs(heat):
    """The exact model over both files in batches of 3 (padded), 8, and 2 × 2 on 4 devices.

    ``traces`` counts the model's calls while tracing, per run.
    """
    runs, traces = {}, {}
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:4]), ("data",))
    for name, kwargs in {"three": dict(batch_size=3), "eight": dict(batch_size=8),
                         "sharded": dict(batch_size=2, mesh=mesh)}.items():
        traces[name] = 0

        def counting_model(u, conditioning, name=name):
            traces[name] += 1
            return exact_heat_model(u, conditioning)

        runs[name] = evaluate(counting_model, heat["files"], **kwargs)
    runs["traces"] = traces
    return runs


def test_exact_model_errs_by_round_off_and_stays_correlated(heat, exact_runs):
    result = exact_runs["three"]
    model, persistence = result.model, result.persistence
    n_steps = 8 - 2
    assert result.n_trajectories == 8 and result.n_steps == n_steps
    np.testing.assert_allclose(result.lead_time, DT * np.arange(1, n_steps + 1), rtol=1e-6)
    assert model.relative_l2.shape == (n_steps,) and model.vrmse.shape == (n_steps, C)
    assert np.all(model.relative_l2 < 2e-6) and np.all(model.nrmse < 2e-6)
    assert np.all(model.trajectory_relative_l2 < 2e-6)
    assert np.all(model.vrmse < 1e-5) and np.all(model.spectrum_error < 1e-4)
    assert np.all(np.abs(model.energy_drift) < 1e-5) and np.all(model.mass_drift < 1e-5)
    assert np.all(model.correlation > 1 - 1e-6)
    np.testing.assert_array_equal(model.blowup_step, n_steps)
    for t in (0.8, 0.95):
        np.testing.assert_array_equal(model.correlation_steps[t], n_steps)
        np.testing.assert_allclose(model.correlation_time[t], n_steps * DT, rtol=1e-6)
    ratios = result.ratios()
    assert ratios["trajectory_relative_l2"] < 1e-3 and ratios["correlation_steps_0.95"] >= 1
    # Persistence on the same data is far off, and grows with the lead time.
    assert persistence.relative_l2[0] > 1e-2 and np.all(np.diff(persistence.relative_l2) > 0)
    assert np.all(persistence.energy_drift > 0)  # the frozen field keeps energy diffusion lost
    # Examples are the first two trajectories of the first file, truth from the file.
    np.testing.assert_allclose(result.examples_truth, heat["fields"][:2, 2:])
    np.testing.assert_allclose(result.examples_prediction, result.examples_truth, atol=1e-5)


def test_wrong_conditioning_is_not_round_off(heat):
    # Every trajectory stepped with the first one's ν: the oracle above can fail.
    def same_nu_model(u, conditioning):
        return exact_heat_model(u, jnp.broadcast_to(conditioning[:1], conditioning.shape))

    result = evaluate(same_nu_model, heat["files"][0], batch_size=8, n_steps=2)
    assert result.model.relative_l2[0] > 1e-4


def test_persistence_model_matches_the_baseline(heat):
    identity = Normalization.identity(CHANNELS, ("diffusivity",))
    result = evaluate(persistence_model, heat["files"], normalization=identity, batch_size=4)
    assert_same_metrics(result.model, result.persistence)
    ratios = result.ratios()
    assert ratios["relative_l2_mean"] == pytest.approx(1.0)
    assert ratios["trajectory_relative_l2"] == pytest.approx(1.0)
    # The baseline by hand: the last input frame against every later frame.
    truth = heat["fields"][:, 2:]
    frozen = np.broadcast_to(heat["fields"][:, 1:2], truth.shape)
    error = np.linalg.norm((frozen - truth).reshape(8, 6, -1), axis=-1)
    error /= np.linalg.norm(truth.reshape(8, 6, -1), axis=-1)
    np.testing.assert_allclose(result.persistence.relative_l2, error.mean(0), rtol=1e-5)


def test_blowup_is_detected(heat):
    identity = Normalization.identity(CHANNELS, ("diffusivity",))
    result = evaluate(times_ten_model, heat["files"], normalization=identity, batch_size=8)
    truth = heat["fields"][:, 2:].astype(np.float64)
    prediction = 10.0 ** np.arange(1, 7)[None, :, None, None, None] * heat["fields"][:, 1:2]
    expected = blowup_step(jnp.asarray(prediction), jnp.asarray(truth))
    np.testing.assert_array_equal(result.model.blowup_step, expected)
    assert np.all(result.model.blowup_step < 3)
    assert result.model.summary()["blowup_fraction"] == 1.0
    assert result.persistence.summary()["blowup_fraction"] == 0.0
    # Pearson correlation ignores the scale: the blown-up rollout correlates like persistence.
    np.testing.assert_allclose(result.model.correlation, result.persistence.correlation, rtol=1e-5)
    np.testing.assert_allclose(
        result.model.correlation,
        np.mean(pearson_correlation(jnp.asarray(prediction), jnp.asarray(truth)), axis=0),
        rtol=1e-5,
    )


def test_padding_and_batch_size_do_not_change_metrics(exact_runs):
    three, eight = exact_runs["three"], exact_runs["eight"]
    assert_same_metrics(three.model, eight.model)
    assert_same_metrics(three.persistence, eight.persistence)
    np.testing.assert_allclose(three.examples_prediction, eight.examples_prediction, rtol=1e-6)


def test_sharded_evaluation_equals_unsharded(exact_runs):
    assert_same_metrics(exact_runs["sharded"].model, exact_runs["eight"].model)
    assert_same_metrics(exact_runs["sharded"].persistence, exact_runs["eight"].persistence)


def test_one_trace_serves_every_batch(exact_runs):
    # Batches of 8 trace once per grid; batches of 3 (5 + 3 trajectories: three batches, one
    # padded) must not trace more.
    traces = exact_runs["traces"]
    assert traces["eight"] > 0 and traces["three"] == traces["eight"]


def test_window_start_and_horizon(heat):
    result = evaluate(exact_heat_model, heat["files"], start=1, n_steps=3, batch_size=8)
    assert result.n_steps == 3 and result.start == 1
    np.testing.assert_allclose(result.examples_truth, heat["fields"][:2, 3:6])
    assert np.all(result.model.relative_l2 < 2e-6)
    np.testing.assert_array_equal(result.model.correlation_steps[0.95], 3)


def test_fno_evaluates_sharded_and_at_a_finer_resolution(heat):
    model = FNO(in_channels=2 * C, out_channels=C, modes=(4, 4), width=8, depth=2,
                rngs=nnx.Rngs(0))
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:4]), ("data",))
    normalization = heat_normalization(())
    # One call over two grids: 3 trajectories at 16², then 2 at 32² (zero-shot super-resolution).
    both = evaluate_rollouts(model, normalization, [heat["files"][1], heat["fine"]], history=2)
    sharded = evaluate_rollouts(model, normalization, heat["files"][1], history=2, mesh=mesh)
    assert both.n_trajectories == 5 and both.n_steps == 6
    assert both.examples_prediction.shape == (2, 6, 16, 16, C)  # examples keep the first grid
    assert np.all(np.isfinite(both.model.relative_l2))
    assert np.all(np.isfinite(both.model.trajectory_relative_l2))
    np.testing.assert_allclose(sharded.model.trajectory_relative_l2,
                               both.model.trajectory_relative_l2[:3], rtol=1e-5)
    np.testing.assert_allclose(sharded.examples_prediction, both.examples_prediction,
                               rtol=1e-5, atol=1e-6)


def test_clear_errors(heat):
    files = heat["files"]
    with pytest.raises(ValueError, match="needs at least 9 frames; the file has 8"):
        evaluate(exact_heat_model, files, history=8)
    with pytest.raises(ValueError, match="n_steps=7 must be in 1…6"):
        evaluate(exact_heat_model, files, n_steps=7)
    with pytest.raises(ValueError, match="model predicts 1 channels, data has 2"):
        evaluate(lambda u, c: u[..., :1], files)
    with pytest.raises(ValueError, match="no parameter 'viscosity'"):
        evaluate(exact_heat_model, files, parameters=("viscosity",))
    with pytest.raises(ValueError, match="differ from the normalisation"):
        evaluate(exact_heat_model, files, normalization=heat_normalization(()))
    with pytest.raises(ValueError, match="channels"):
        evaluate(exact_heat_model, files,
                 normalization=Normalization.identity(("a", "b"), ("diffusivity",)))
    with pytest.raises(ValueError, match="unknown target"):
        evaluate(exact_heat_model, files, target="flux")
    with pytest.raises(ValueError, match="'data' axis"):
        mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:2]), ("batch",))
        evaluate(exact_heat_model, files, mesh=mesh)
