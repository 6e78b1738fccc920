"""The soft physics option: the PDE-residual penalty in training, wired to the data's equation."""

import jax.numpy as jnp
import numpy as np
import pytest

from neuralpde.config import ConfigError, from_dict
from neuralpde.data import Normalization, TrajectoryWindows, split_files
from neuralpde.datagen import generate, load_recipe
from neuralpde.datagen.navier_stokes_recipe import Splits
from neuralpde.training import TrainConfig, residual_penalty_for, train
from neuralpde.training.physics_penalty import recorded_recipe
from neuralpde.training.run_log import read_log


@pytest.fixture(scope="module")
def heat(tmp_path_factory):
    root = tmp_path_factory.mktemp("heat")
    recipe = load_recipe("gpme-heat-tiny").replace(splits=Splits(train=4, valid=2, test=0))
    generate(recipe, root, progress=False)
    return root / recipe.name


def numpy_heat_residual(u0, u1, k, dt, h):
    """Trapezoidal residual of u_t = k u_xx, cell averages, u = 0 at both walls (half cells)."""
    def laplacian(u):
        padded = np.concatenate([[-u[0]], u, [-u[-1]]])  # ghost cells: the wall value is 0
        return (padded[2:] - 2 * u + padded[:-2]) / h**2
    return (u1 - u0) / dt - k * (laplacian(u0) + laplacian(u1)) / 2


def test_penalty_is_the_heat_residual_of_the_prediction(heat):
    windows = TrajectoryWindows(split_files(heat, "train"), history=2, future=1,
                                parameters=["diffusivity"])
    recipe = recorded_recipe(windows.files[0])
    normalization = Normalization(np.array([0.1], np.float32), np.array([0.5], np.float32),
                                  np.zeros(1, np.float32), np.ones(1, np.float32), ("u",),
                                  ("diffusivity",))
    penalty = residual_penalty_for(recipe, 2.0, ("diffusivity",), 2, normalization)
    items = [windows[i] for i in (0, 7, 30)]
    batch = {name: jnp.asarray(np.stack([item[name] for item in items]))
             for name in ("input", "target", "conditioning", "start")}
    window = normalization.normalize(batch["input"].astype(jnp.float32))
    truth = normalization.normalize(batch["target"][:, 0].astype(jnp.float32))
    x = (np.arange(32) + 0.5) * (2 * np.pi / 32)
    delta = 0.01 * np.sin(3 * x)[None, :, None].astype(np.float32)
    perturbed = truth + delta / 0.5  # δ in physical units
    h, dt = 2 * np.pi / 32, recipe.store_interval
    expected = {}
    u0 = np.asarray(normalization.denormalize(window[:, -1]))[..., 0].astype(np.float64)
    k = np.asarray(batch["conditioning"])[:, 0]
    for name, prediction in (("truth", truth), ("perturbed", perturbed)):
        u1 = np.asarray(normalization.denormalize(prediction))[..., 0].astype(np.float64)
        r = np.stack([numpy_heat_residual(a, b, c, dt, h) for a, b, c in zip(u0, u1, k,
                                                                             strict=True)])
        expected[name] = 2.0 * np.mean(r**2)
        np.testing.assert_allclose(float(penalty(window, prediction, batch)), expected[name],
                                   rtol=2e-3)
    # On solver data the residual is the scheme's O(Δt²) error; δ = 0.01 sin 3x makes it ≫.
    assert expected["truth"] < 1e-2 * expected["perturbed"]


def test_training_with_the_penalty_logs_and_lowers_it(heat, tmp_path):
    def config(**changes):
        return from_dict(TrainConfig, {
            "data": {"path": str(heat), "history": 2, "parameters": ["diffusivity"],
                     "num_threads": 1},
            "model": {"kind": "fno", "in_channels": 2, "out_channels": 1, "modes": [8],
                      "width": 8, "depth": 2, "n_conditioning": 1},
            "target": "difference", "physics": {"residual_weight": 1e-3},
            "optimizer": {"learning_rate": 3e-3, "warmup_steps": 2},
            "steps": 40, "batch_size": 4, "log_every": 4, "eval_every": 40,
            "checkpoint_every": 40, **changes,
        })

    train(config(), tmp_path / "run", progress=False)
    penalties = [r["penalty"] for r in read_log(tmp_path / "run") if "penalty" in r]
    assert len(penalties) == 40 and all(p > 0 for p in penalties)
    assert np.mean(penalties[-8:]) < 0.5 * np.mean(penalties[:4]), penalties
    with pytest.raises(ConfigError, match="needs each trajectory's 'diffusivity'"):
        bad = config(data={"path": str(heat), "history": 2, "num_threads": 1},
                     model={"kind": "fno", "in_channels": 2, "out_channels": 1, "modes": [8],
                            "width": 8, "depth": 2})
        train(bad, tmp_path / "bad", progress=False)
    with pytest.raises(ConfigError, match="residual_weight must be ≥ 0"):
        config(physics={"residual_weight": -1.0})
