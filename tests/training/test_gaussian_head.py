"""The variance head (physics.variance: head): ProbConserv's update inside training and rollouts."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from helpers import tiny_recipe
from test_mass_balance_training import config_for, stefan  # noqa: F401 (fixture)
from test_train_loop import tiny_config

from neuralpde.config import ConfigError
from neuralpde.constraints import LinearConstraint, probconserv_update, read_mass_budget
from neuralpde.data import Normalization, split_files
from neuralpde.datagen import generate
from neuralpde.evaluation.run_report import evaluate_run
from neuralpde.training import train
from neuralpde.training.gaussian_head import (
    GaussianFrame,
    condition_on_sum,
    gaussian_nll,
    gaussian_predictor,
    law_target,
)
from neuralpde.training.mass_balance import mass_balance_correction


def random_frame(rng, shape):
    return GaussianFrame(jnp.asarray(rng.normal(size=shape)),
                         jnp.asarray(rng.uniform(0.1, 2.0, size=shape)))


@pytest.mark.parametrize("sigma2", [0.0, 0.3])
def test_the_update_is_probconserv_with_a_row_of_ones(sigma2):
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        frame = random_frame(rng, (3, 8, 6, 2))
        beta = jnp.asarray(rng.normal(size=3))
        updated = condition_on_sum(frame, beta, 1, sigma2)
        np.testing.assert_array_equal(updated.mean[..., 0], frame.mean[..., 0])
        np.testing.assert_array_equal(updated.variance[..., 0], frame.variance[..., 0])
        for b in range(3):
            mu, var = frame.mean[b, ..., 1].reshape(-1), frame.variance[b, ..., 1].reshape(-1)
            constraint = LinearConstraint(jnp.ones((1, mu.size)), beta[b:b + 1])
            mean, variance = probconserv_update(mu, var, constraint, sigma2)
            np.testing.assert_allclose(updated.mean[b, ..., 1].reshape(-1), mean, rtol=1e-13)
            np.testing.assert_allclose(updated.variance[b, ..., 1].reshape(-1), variance,
                                       rtol=1e-12, atol=1e-15)
            # the closed form of the residual after the update
            before, after = (jnp.sum(f[b, ..., 1]) - beta[b] for f in (frame.mean, updated.mean))
            expected = sigma2 / (jnp.sum(var) + sigma2) * before
            np.testing.assert_allclose(after, expected, atol=1e-12 * abs(float(before)))


def test_with_unit_variance_the_mass_law_is_the_hard_projection():
    with jax.enable_x64(True):
        rng = np.random.default_rng(1)
        normalization = Normalization(np.array([0.3]), np.array([0.4]), np.zeros(0), np.zeros(0),
                                      ("u",))
        window = jnp.asarray(rng.normal(size=(3, 2, 32, 1)))
        frame = jnp.asarray(rng.normal(size=(3, 32, 1)))
        batch = {"inflow": jnp.asarray(rng.normal(size=(3, 2))), "cell_volume": jnp.full(3, 1 / 32)}
        beta = law_target("mass_balance", normalization, 0, batch)(window, 1)
        updated = condition_on_sum(GaussianFrame(frame, jnp.ones_like(frame)), beta, 0, 0.0)
        hard = mass_balance_correction(batch, normalization)(frame, window, 1)
        np.testing.assert_allclose(updated.mean, hard, rtol=1e-12, atol=1e-12)


def test_the_zero_mean_law_makes_the_physical_mean_zero():
    rng = np.random.default_rng(2)
    normalization = Normalization(np.array([0.5, 1.0]), np.array([2.0, 3.0]), np.zeros(0),
                                  np.zeros(0), ("vorticity", "u"))
    frame = random_frame(rng, (2, 16, 16, 2))
    beta = law_target("zero_mean", normalization, 0, {})(jnp.zeros((2, 1, 16, 16, 2)), 0)
    updated = condition_on_sum(frame, beta, 0, 0.0)
    physical = normalization.denormalize(updated.mean)
    assert np.abs(np.mean(physical[..., 0], axis=(1, 2))).max() < 1e-6
    assert np.abs(np.mean(physical[..., 1], axis=(1, 2))).min() > 1e-2


def test_the_gaussian_nll_is_the_closed_form():
    rng = np.random.default_rng(3)
    frame = random_frame(rng, (2, 5, 1))
    truth = jnp.asarray(rng.normal(size=(2, 5, 1)))
    m, v, t = (np.asarray(a, np.float64) for a in (frame.mean, frame.variance, truth))
    expected = np.mean(-np.log(np.exp(-(t - m) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v)))
    np.testing.assert_allclose(gaussian_nll(frame, truth), expected, rtol=1e-6)


def test_a_mass_balanced_variance_head_trains_and_its_rollouts_keep_the_budget(
        stefan, tmp_path):  # noqa: F811 (the fixture)
    config = config_for(stefan, loss="gaussian_nll",
                        physics={"constraint": "mass_balance", "variance": "head"},
                        model={"kind": "fno", "in_channels": 2, "out_channels": 2, "modes": [8],
                               "width": 8, "depth": 2})
    result = train(config, tmp_path / "run", progress=False)
    assert np.isfinite(result.final_loss) and np.isfinite(result.valid_loss)
    _, evaluation = evaluate_run(tmp_path / "run")
    assert evaluation.correction == "none" and np.all(np.isfinite(evaluation.nll))
    assert "Negative log-likelihood" in (tmp_path / "run" / "evaluation" / "report.md").read_text()
    budget = read_mass_budget(split_files(stefan, "test")[0])
    prediction = evaluation.examples_prediction[..., 0].astype(np.float64)
    mass = np.concatenate([budget.mass[:2, 1:2], prediction.sum(-1) * budget.cell_volume], 1)
    defect = np.abs(np.diff(mass, axis=1) - budget.inflow[:2, 2:]).max() / budget.mass.max()
    assert defect < prediction.shape[-1] * np.finfo(np.float32).eps


def test_a_zero_mean_variance_head_keeps_the_mean_vorticity_and_learns(tmp_path):
    generate(tiny_recipe(), tmp_path, progress=False)
    config = tiny_config(tmp_path / "tiny", loss="gaussian_nll", steps=24,
                         physics={"constraint": "zero_mean", "variance": "head"},
                         model__out_channels=6, objective={"kind": "one_step"})
    train(config, tmp_path / "run", progress=False)
    from test_train_loop import losses
    curve = losses(tmp_path / "run")
    assert np.mean(curve[-4:]) < np.mean(curve[:4]) - 0.1, curve  # the NLL falls
    _, evaluation = evaluate_run(tmp_path / "run")
    scale = np.abs(evaluation.examples_truth[..., 0]).max()
    assert np.abs(evaluation.model.mass_drift[:, 0]).max() < 1e-6 * scale
    assert np.all(np.isfinite(evaluation.nll))


def test_the_head_and_its_loss_come_together(tmp_path):
    with pytest.raises(ConfigError, match="variance head is trained by loss: gaussian_nll"):
        tiny_config(tmp_path, physics={"variance": "head"})
    with pytest.raises(ConfigError, match="variance head is trained by loss: gaussian_nll"):
        tiny_config(tmp_path, loss="gaussian_nll")
    with pytest.raises(ConfigError, match="sigma2"):
        tiny_config(tmp_path, physics={"sigma2": 0.1})
    generate(tiny_recipe(), tmp_path, progress=False)
    config = tiny_config(tmp_path / "tiny", loss="gaussian_nll", physics={"variance": "head"})
    with pytest.raises(ConfigError, match=r"out_channels=3 .* \(times 2 for the variance head\)"):
        train(config, tmp_path / "bad", progress=False)


@pytest.mark.parametrize("kind", ["fno", "factformer", "ifactformer_m", "unet", "sinenet"])
def test_every_registered_model_wears_the_head_and_its_law(kind):
    sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
    from cheap_models import UNOPTIMISED, with_random_weights
    from test_model_registry import TINY, inputs

    from neuralpde.models import MODELS, build_model

    assert set(MODELS) == set(TINY)
    config, (space, _) = TINY[kind]  # one input channel, two outputs: a mean and a variance
    model = with_random_weights(lambda rngs: build_model(config, rngs=rngs))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    u, conditioning = inputs(config, space)
    normalization = Normalization(np.array([0.2]), np.array([1.5]), np.zeros(0), np.zeros(0),
                                  ("vorticity",))
    beta = law_target("zero_mean", normalization, 0, {})

    def nll(params, window, truth):
        model = nnx.merge(graphdef, params, rest)
        frame = gaussian_predictor(model, conditioning, "difference", beta, 0, 0.0)(window, 0)
        return gaussian_nll(frame, truth), frame

    value_and_grad = jax.jit(jax.value_and_grad(nll, has_aux=True), compiler_options=UNOPTIMISED)
    (loss, frame), grads = value_and_grad(params, u[:, None], -u)
    physical = normalization.denormalize(frame.mean)[..., 0]
    assert np.abs(np.mean(physical, axis=(1, 2))).max() < 1e-5 * np.abs(physical).max()
    assert np.all(frame.variance > 0) and np.isfinite(loss)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
