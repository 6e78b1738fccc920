"""physics.local_constraint: the data's discrete equation imposed per subdomain, in training and
in the run's rollouts, on both equation families."""

import numpy as np
import pytest
from helpers import tiny_recipe
from test_physics_penalty import heat  # noqa: F401 (fixture)
from test_train_loop import tiny_config

from neuralpde.config import ConfigError, from_dict
from neuralpde.data import split_files
from neuralpde.datagen import generate
from neuralpde.evaluation.run_report import evaluate_run
from neuralpde.io import TrajectoryFile
from neuralpde.training import TrainConfig, train
from neuralpde.training.physics_penalty import data_residual, recorded_recipe


def heat_config(heat, **physics) -> TrainConfig:  # noqa: F811 (the fixture's name)
    return from_dict(TrainConfig, {
        "data": {"path": str(heat), "history": 2, "parameters": ["diffusivity"],
                 "num_threads": 1},
        "model": {"kind": "fno", "in_channels": 2, "out_channels": 1, "modes": [8], "width": 8,
                  "depth": 2, "n_conditioning": 1},
        "target": "difference", "physics": physics,
        "optimizer": {"learning_rate": 3e-3, "warmup_steps": 2},
        "steps": 8, "batch_size": 4, "log_every": 4, "eval_every": 8, "checkpoint_every": 8,
        "evaluation": {"split": "valid"},
    })


def rollout_residuals(run_dir, dataset, split, parameter):
    """``r(u_j, u_{j+1})`` between consecutive predicted frames of the run's example rollouts,
    and the scale ``max |u|/Δt`` of the true frames it is measured against."""
    _, evaluation = evaluate_run(run_dir)
    files = split_files(dataset, split)
    recipe = recorded_recipe(files[0])
    residual, _ = data_residual(recipe, (parameter,) if parameter else ())
    with TrajectoryFile(files[0]) as f:
        values = f.scalar(parameter)[:2] if parameter else np.zeros(2)
    frames = evaluation.examples_prediction[..., 0]
    history = evaluation.history
    r = [np.asarray(residual(frames[b, j], frames[b, j + 1], np.float32(values[b]),
                             history + j))
         for b in range(len(frames)) for j in range(frames.shape[1] - 1)]
    scale = np.abs(evaluation.examples_truth[..., 0]).max() / recipe.store_interval
    return np.stack(r), scale


def test_cells_make_every_cells_residual_vanish_in_the_rollouts(heat, tmp_path):  # noqa: F811
    train(heat_config(heat), tmp_path / "free", progress=False)
    # Δt k/h² ≈ 240 here: a multiplicative Schwarz sweep shrinks the error about 4×, so 16
    # sweeps reach round-off (4 additive sweeps leave 1e-3 of it, measured)
    config = heat_config(heat, local_constraint="cells", experts=[4], sweeps=16,
                         schedule="multiplicative")
    result = train(config, tmp_path / "cells", progress=False)
    assert np.isfinite(result.final_loss)
    free, scale = rollout_residuals(tmp_path / "free", heat, "valid", "diffusivity")
    held, _ = rollout_residuals(tmp_path / "cells", heat, "valid", "diffusivity")
    # float32 round-off of r is ε k u/h² ≈ 1e-2; measured 1e-5, against 2e3 unconstrained
    assert np.abs(held).max() < 1e-5 * scale < 1e-3 * scale < np.abs(free).max(), (
        np.abs(held).max(), scale, np.abs(free).max())


def test_subdomain_balance_holds_every_tiles_vorticity_balance(tmp_path):
    generate(tiny_recipe(), tmp_path, progress=False)
    dataset = tmp_path / "tiny"
    physics = {"local_constraint": "subdomain_balance", "experts": [2, 2]}
    config = tiny_config(dataset, physics=physics, steps=4, log_every=2, eval_every=4,
                         checkpoint_every=4, objective={"kind": "one_step"})
    result = train(config, tmp_path / "run", progress=False)
    assert np.isfinite(result.final_loss)
    r, scale = rollout_residuals(tmp_path / "run", dataset, "test", "viscosity")
    tiles = r.reshape(len(r), 2, 8, 2, 8).sum(axis=(2, 4)) / 64
    assert np.abs(tiles).max() < 1e-4 * scale, (np.abs(tiles).max(), scale)
    assert np.abs(r).max() > 1e2 * np.abs(tiles).max()  # the cells themselves are free


def test_local_constraints_are_checked(heat, tmp_path):  # noqa: F811
    with pytest.raises(ConfigError, match="needs experts"):
        heat_config(heat, local_constraint="cells")
    with pytest.raises(ConfigError, match="does not combine"):
        heat_config(heat, local_constraint="cells", experts=[4], constraint="mass_balance")
    with pytest.raises(ConfigError, match=r"one tile count per axis of the grid \(32,\)"):
        train(heat_config(heat, local_constraint="cells", experts=[5]), tmp_path / "a",
              progress=False)
    generate(tiny_recipe(), tmp_path, progress=False)
    config = tiny_config(tmp_path / "tiny", physics={"local_constraint": "cells",
                                                     "experts": [2, 2]})
    with pytest.raises(ConfigError, match="Navier–Stokes residual is spectral"):
        train(config, tmp_path / "b", progress=False)
