"""The hard mass-balance constraint inside training, validation and the run's rollouts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neuralpde.config import ConfigError, from_dict, to_yaml
from neuralpde.constraints import hard_projection, mass_balance_constraint, read_mass_budget
from neuralpde.data import (
    Normalization,
    OnlineBatches,
    TrajectoryWindows,
    data_mesh,
    split_files,
)
from neuralpde.datagen import generate, load_recipe
from neuralpde.datagen.navier_stokes_recipe import Splits
from neuralpde.evaluation.run_report import evaluate_run
from neuralpde.training import TrainConfig, train
from neuralpde.training.mass_balance import mass_balance_correction
from neuralpde.training.online_source import online_stream
from neuralpde.training.physics_penalty import recorded_recipe


@pytest.fixture(scope="module")
def stefan(tmp_path_factory):
    root = tmp_path_factory.mktemp("stefan")
    recipe = load_recipe("gpme-stefan-tiny").replace(splits=Splits(train=4, valid=2, test=2))
    generate(recipe, root, progress=False)
    return root / recipe.name


def test_windows_carry_their_budget_and_the_correction_is_the_hard_projection(stefan):
    files = split_files(stefan, "train")
    windows = TrajectoryWindows(files, history=2, future=3, mass_budget=True)
    budget = read_mass_budget(files[0])
    window = windows[7]  # trajectory 0, start 7
    np.testing.assert_array_equal(window["inflow"], budget.inflow[0, 9:12].astype(np.float32))
    assert window["cell_volume"] == np.float32(budget.cell_volume)

    normalization = Normalization(np.array([0.3]), np.array([0.4]), np.zeros(0), np.zeros(0),
                                  ("u",))
    rng = np.random.default_rng(0)
    frames = jnp.asarray(rng.normal(size=(3, 2, 32, 1)))
    frame = jnp.asarray(rng.normal(size=(3, 32, 1)))
    batch = {"inflow": jnp.asarray(rng.normal(size=(3, 2))), "cell_volume": jnp.full(3, 1 / 32)}
    corrected = normalization.denormalize(
        mass_balance_correction(batch, normalization)(frame, frames, 1))
    previous, predicted = (normalization.denormalize(f)[..., 0] for f in (frames[:, -1], frame))
    for b in range(3):
        constraint = mass_balance_constraint(previous[b], 1 / 32, batch["inflow"][b, 1])
        np.testing.assert_allclose(corrected[b, :, 0], hard_projection(predicted[b], constraint),
                                   rtol=1e-12, atol=1e-12)


def config_for(stefan, **changes) -> TrainConfig:
    return from_dict(TrainConfig, {
        "data": {"path": str(stefan), "history": 2, "num_threads": 1},
        "model": {"kind": "fno", "in_channels": 2, "out_channels": 1, "modes": [8], "width": 8,
                  "depth": 2},
        "objective": {"kind": "unrolled", "steps": 2}, "target": "difference",
        "physics": {"constraint": "mass_balance"},
        "optimizer": {"learning_rate": 3e-3, "warmup_steps": 2},
        "steps": 16, "batch_size": 4, "log_every": 4, "eval_every": 16, "checkpoint_every": 16,
        **changes,
    })


def test_a_mass_balanced_run_trains_and_its_rollouts_keep_the_budget(stefan, tmp_path):
    result = train(config_for(stefan), tmp_path / "run", progress=False)
    assert np.isfinite(result.final_loss) and np.isfinite(result.valid_loss)
    _, evaluation = evaluate_run(tmp_path / "run")
    assert evaluation.correction == "hard"
    budget = read_mass_budget(split_files(stefan, "test")[0])
    prediction = evaluation.examples_prediction[..., 0].astype(np.float64)
    mass = np.concatenate([budget.mass[:2, 1:2], prediction.sum(-1) * budget.cell_volume], 1)
    defect = np.abs(np.diff(mass, axis=1) - budget.inflow[:2, 2:]).max() / budget.mass.max()
    assert defect < prediction.shape[-1] * np.finfo(np.float32).eps


def test_an_online_run_gets_the_same_budget_and_holds_it(stefan, tmp_path):
    data = {"path": str(stefan), "history": 2, "num_threads": 1, "source": "online",
            "recipe": str(tmp_path / "recipe.yaml"), "buffer_size": 4, "refresh_fraction": 1.0,
            "refresh_every": 2}
    (tmp_path / "recipe.yaml").write_text(to_yaml(recorded_recipe(
        split_files(stefan, "valid")[0])))
    config = config_for(stefan, data=data)
    valid = TrajectoryWindows(split_files(stefan, "valid"), history=2)
    batches = OnlineBatches(online_stream(config.data, valid, 2, mass_budget=True), 4,
                            mesh=data_mesh(), seed=0)
    batch = jax.device_get(next(batches))  # trajectories 0…3: the stored train split's
    budget = read_mass_budget(split_files(stefan, "train")[0])
    for trajectory, start, inflow in zip(batch["trajectory"], batch["start"], batch["inflow"],
                                         strict=True):
        np.testing.assert_allclose(inflow, budget.inflow[trajectory, start + 2:start + 4],
                                   rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(batch["cell_volume"], budget.cell_volume, rtol=1e-7)
    result = train(config, tmp_path / "run", progress=False)
    assert np.isfinite(result.final_loss)


def test_mass_balance_errors_are_named(stefan):
    with pytest.raises(ConfigError, match="'mass' is not one of"):
        config_for(stefan, physics={"constraint": "mass"})
