"""The training loop end to end: sharding, exact resume after SIGKILL, and clear errors."""

import json

import jax
import numpy as np
import pytest
from helpers import tiny_recipe, train_killed_and_resumed

from neuralpde.cli import main
from neuralpde.config import ConfigError, from_dict
from neuralpde.data import DataError
from neuralpde.datagen import generate
from neuralpde.datagen.navier_stokes_recipe import Splits
from neuralpde.training import (
    CheckpointError,
    TrainConfig,
    TrainingDivergedError,
    load_trained_model,
    train,
)
from neuralpde.training.run_log import read_log


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    generate(tiny_recipe(), root, progress=False)
    return root / "tiny"


def tiny_config(dataset, **changes) -> TrainConfig:
    data = {
        "data": {"path": str(dataset), "history": 2, "parameters": ["viscosity"],
                 "num_threads": 1},
        "model": {"kind": "fno", "in_channels": 6, "out_channels": 3, "modes": [4, 4],
                  "width": 8, "depth": 2, "n_conditioning": 1},
        "objective": {"kind": "unrolled", "steps": 2, "noise_std": 0.01},
        "optimizer": {"learning_rate": 1e-2, "warmup_steps": 2},
        "steps": 12, "batch_size": 4, "log_every": 2, "eval_every": 4, "eval_batches": 2,
        "checkpoint_every": 4,
    }
    for key, value in changes.items():
        section, _, name = key.rpartition("__")
        (data[section] if section else data)[name] = value
    return from_dict(TrainConfig, data)


def losses(run_dir):
    return [r["loss"] for r in read_log(run_dir) if "loss" in r]


def test_one_and_four_devices_give_the_same_loss_curve(dataset, tmp_path):
    assert len(jax.devices()) == 4
    config = tiny_config(dataset)
    train(config, tmp_path / "one", devices=jax.devices()[:1], progress=False)
    train(config, tmp_path / "four", devices=jax.devices(), progress=False)
    one, four = losses(tmp_path / "one"), losses(tmp_path / "four")
    assert len(one) == 12
    np.testing.assert_allclose(four, one, rtol=2e-5)
    assert np.mean(one[-4:]) < 0.9 * np.mean(one[:4]), one  # it learns
    for name in ("config.yaml", "provenance.json", "normalization.yaml", "metrics.jsonl"):
        assert (tmp_path / "one" / name).exists(), name
    assert list((tmp_path / "one" / "tensorboard").iterdir())
    provenance = json.loads((tmp_path / "one" / "provenance.json").read_text())
    assert provenance["package_version"] and provenance["git_revision"]
    trained = load_trained_model(tmp_path / "one")
    assert trained.step == 12 and trained.normalization.parameter_names == ("viscosity",)


def test_resume_after_sigkill_repeats_the_uninterrupted_run(dataset, tmp_path):
    # Every run goes through the command line, so that all share its settings (no x64).
    config = tiny_config(dataset, steps=24, checkpoint_every=4, eval_every=8)
    reference, run, logged = train_killed_and_resumed(config, tmp_path, kill_at=8)
    assert logged < 24
    assert len(losses(run)) == 24
    assert losses(run) == losses(reference)  # bit for bit, the data order and noise included
    valid = [r["valid_loss"] for r in read_log(run) if "valid_loss" in r]
    assert valid == [r["valid_loss"] for r in read_log(reference) if "valid_loss" in r]


def test_data_that_does_not_fit_the_model_is_named(dataset, tmp_path):
    with pytest.raises(ConfigError, match=r"in_channels=5 but history 2 × 3 channels"):
        train(tiny_config(dataset, model__in_channels=5), tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match="out_channels=1 but the data has 3 channels"):
        train(tiny_config(dataset, model__out_channels=1), tmp_path / "b", progress=False)
    with pytest.raises(ConfigError, match="does not fit the model"):
        train(tiny_config(dataset, model__modes=[4, 4, 4]), tmp_path / "c", progress=False)


def test_unknown_model_or_objective_lists_the_known_ones(dataset):
    with pytest.raises(ConfigError, match=r"'transformer'.*fno"):
        tiny_config(dataset, model={"kind": "transformer"})
    with pytest.raises(ConfigError, match=r"unknown kind 'rl'.*one_step"):
        tiny_config(dataset, objective={"kind": "rl"})


def test_empty_split_is_an_error(dataset, tmp_path):
    root = tmp_path / "data"
    generate(tiny_recipe(splits=Splits(train=2, valid=0, test=0)), root, progress=False)
    with pytest.raises(DataError, match="valid"):
        train(tiny_config(root / "tiny"), tmp_path / "run", progress=False)


def test_diverging_loss_stops_and_names_the_step(dataset, tmp_path):
    config = tiny_config(dataset, optimizer={"learning_rate": 1e30, "warmup_steps": 0})
    with pytest.raises(TrainingDivergedError, match=r"non-finite at step \d+.*trajectories \["):
        train(config, tmp_path / "run", progress=False)


def test_evaluate_command_then_corrupt_checkpoint_is_named(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny_config(dataset, steps=4), run, progress=False)
    assert main(["evaluate", str(run), "--split", "valid", "--steps", "3", "--checkpoint",
                 "latest", "--out", str(tmp_path / "report")]) == 0
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["n_steps"] == 3 and metrics["n_trajectories"] == 2
    assert main(["evaluate", str(tmp_path / "nowhere")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    for path in (run / "checkpoints" / "4").rglob("*"):
        if path.is_file() and path.stat().st_size > 0 and "state" in path.parts:
            path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"checkpoints/4 cannot be restored"):
        load_trained_model(run, which="latest")
    with pytest.raises(ConfigError, match="already holds a run"):
        train(tiny_config(dataset, steps=4), run, progress=False)
