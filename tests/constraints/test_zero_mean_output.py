"""The hard zero-mean layer: exact on any model, idempotent, and in training and evaluation."""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neuralpde.constraints import ZeroMeanOutput
from neuralpde.data import Normalization
from neuralpde.training.emulator import fold_time, predict_next

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))


def linear_model(key, channels=2, history=2):
    weight = jax.random.normal(key, (history * channels, channels), jnp.float32)
    return lambda x, conditioning: x @ weight + 0.3


@pytest.mark.parametrize("target", ["state", "difference"])
def test_predicted_state_has_zero_mean_and_the_projection_is_idempotent(target):
    normalization = Normalization(np.array([0.2, -1.0], np.float32),
                                  np.array([2.0, 0.5], np.float32), np.zeros(0, np.float32),
                                  np.zeros(0, np.float32), ("vorticity", "tracer"))
    window = jax.random.normal(jax.random.key(1), (3, 2, 16, 16, 2), jnp.float32)
    model = linear_model(jax.random.key(0))
    constrained = ZeroMeanOutput(model, normalization, "vorticity", target)
    raw = normalization.denormalize(predict_next(model, window, None, target))
    state = normalization.denormalize(predict_next(constrained, window, None, target))
    scale = np.abs(raw[..., 0]).max()
    np.testing.assert_allclose(state[..., 0].mean(axis=(1, 2)), 0.0, atol=4e-7 * scale)
    assert np.abs(raw[..., 0].mean(axis=(1, 2))).max() > 1e-2 * scale  # the model alone is not
    np.testing.assert_array_equal(state[..., 1], raw[..., 1])  # other channels untouched
    # The correction is the orthogonal projection: it changes the state by a constant only.
    change = state[..., 0] - raw[..., 0]
    np.testing.assert_allclose(change - change.mean(axis=(1, 2), keepdims=True), 0.0,
                               atol=4e-7 * scale)
    twice = ZeroMeanOutput(constrained, normalization, "vorticity", target)
    np.testing.assert_allclose(twice(fold_time(window)), constrained(fold_time(window)),
                               atol=4e-7 * scale)
    with pytest.raises(ValueError, match="no channel 'pressure'"):
        ZeroMeanOutput(model, normalization, "pressure", target)


def test_training_and_evaluation_keep_the_mean_vorticity(tmp_path):
    from helpers import tiny_recipe
    from test_train_loop import tiny_config

    from neuralpde.config import ConfigError
    from neuralpde.datagen import generate
    from neuralpde.evaluation.run_report import evaluate_run
    from neuralpde.training import train

    generate(tiny_recipe(), tmp_path, progress=False)
    drift = {}
    for constraint in ("none", "zero_mean"):
        config = tiny_config(tmp_path / "tiny", physics={"constraint": constraint},
                             objective={"kind": "one_step"})
        train(config, tmp_path / constraint, progress=False)
        _, evaluation = evaluate_run(tmp_path / constraint)
        drift[constraint] = np.abs(evaluation.model.mass_drift[:, 0]).max()
        report = json.loads((tmp_path / constraint / "evaluation" / "metrics.json").read_text())
        assert report["n_trajectories"] == 2
    scale = np.abs(evaluation.examples_truth[..., 0]).max()
    assert drift["zero_mean"] < 1e-6 * scale < drift["none"], drift
    with pytest.raises(ConfigError, match="no channel 'pressure'"):
        train(tiny_config(tmp_path / "tiny", physics={"constraint": "zero_mean",
                                                       "constraint_channel": "pressure"}),
              tmp_path / "bad", progress=False)
