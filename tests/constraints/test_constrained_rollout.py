"""The constrained rollout holds the file's mass budget at every predicted frame."""

import numpy as np
import pytest
from flax import nnx

from neuralpde.constraints import MassBudget, constrained_rollout
from neuralpde.data import Normalization
from neuralpde.models.fno import FNOConfig
from neuralpde.models.registry import build_model

BATCH, HISTORY, N, STEPS, CELL = 2, 2, 16, 6, 1 / 16


def fno(seed):
    config = FNOConfig(in_channels=HISTORY, out_channels=1, modes=(4,), width=8, depth=2)
    return build_model(config, rngs=nnx.Rngs(params=seed))


@pytest.fixture(scope="module")
def setting():
    """Two random FNOs, a positive window and a budget with the window's mass and random inflow."""
    rng = np.random.default_rng(0)
    window = rng.uniform(0.1, 1.0, (BATCH, HISTORY, N, 1)).astype(np.float32)
    inflow = np.zeros((BATCH, HISTORY + STEPS))
    inflow[:, 1:] = rng.uniform(0.0, 0.05, (BATCH, HISTORY + STEPS - 1))
    mass = np.zeros_like(inflow)
    mass[:, HISTORY - 1] = window[:, -1].sum((1, 2)) * CELL
    mass[:, HISTORY:] = mass[:, HISTORY - 1:HISTORY] + np.cumsum(inflow[:, HISTORY:], axis=1)
    budget = MassBudget(CELL, mass, inflow)
    normalization = Normalization(np.array([0.4], np.float32), np.array([0.3], np.float32),
                                  np.zeros(0, np.float32), np.zeros(0, np.float32), ("u",))
    return [fno(0), fno(1)], window, budget, normalization


def mass_error(mean, budget):
    """Largest |predicted mass − budget| relative to the budget, over trajectories and frames."""
    mass = np.asarray(mean, np.float64).sum((2, 3)) * CELL
    target = budget.mass[:, HISTORY:]
    return np.max(np.abs(mass - target) / np.abs(target))


@pytest.mark.parametrize("correction", ["hard", "probabilistic"])
def test_every_frame_holds_the_budget(setting, correction):
    models, window, budget, normalization = setting
    models = models if correction == "probabilistic" else models[0]
    result = constrained_rollout(models, window, budget, normalization, correction=correction,
                                 target="difference")
    assert result.mean.shape == (BATCH, STEPS, N, 1)
    assert result.mean.dtype == np.float32
    assert mass_error(result.mean, budget) < 5e-6
    if correction == "probabilistic":
        assert result.variance.shape == result.mean.shape
        assert np.all(np.isfinite(result.variance))
        # σ² = 0: no mass direction left uncertain, and the variance never grows.
        assert np.all(np.asarray(result.variance) >= -1e-6)
    else:
        assert result.variance is None


def test_unconstrained_drifts_and_given_variance_works(setting):
    models, window, budget, normalization = setting
    free = constrained_rollout(models[0], window, budget, normalization, correction="none",
                               target="difference")
    assert mass_error(free.mean, budget) > 1e-3
    variance = np.full((BATCH, N, 1), 0.01, np.float32)
    single = constrained_rollout(models[0], window, budget, normalization,
                                 correction="probabilistic", variance=variance,
                                 target="difference")
    hard = constrained_rollout(models[0], window, budget, normalization, correction="hard",
                               target="difference")
    # A constant diagonal variance with σ² = 0 is the orthogonal projection.
    np.testing.assert_allclose(single.mean, hard.mean, atol=1e-5)
    assert mass_error(single.mean, budget) < 5e-6


def test_first_frame_matches_the_emulator_step(setting):
    """Without correction the first frame is the emulator's own prediction."""
    from neuralpde.training import rollout_model

    models, window, budget, normalization = setting
    free = constrained_rollout(models[0], window, budget, normalization, correction="none",
                               target="difference", n_steps=3)
    reference = rollout_model(models[0], window, 3, normalization, target="difference")
    np.testing.assert_allclose(free.mean, reference, rtol=1e-5, atol=1e-6)


def test_rejects_bad_arguments(setting):
    models, window, budget, normalization = setting
    with pytest.raises(ValueError, match="needs a variance"):
        constrained_rollout(models[0], window, budget, normalization, correction="probabilistic")
    with pytest.raises(ValueError, match="unknown correction"):
        constrained_rollout(models, window, budget, normalization, correction="soft")
    with pytest.raises(ValueError, match="probabilistic correction only"):
        constrained_rollout(models, window, budget, normalization, correction="hard", sigma2=0.1)
    with pytest.raises(ValueError, match="does not cover"):
        constrained_rollout(models, window, budget, normalization, n_steps=STEPS + 1)
