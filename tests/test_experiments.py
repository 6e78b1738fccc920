"""Smoke tests of the experiments' configs: each trains two steps on tiny data, as written."""

from pathlib import Path

import pytest
from helpers import tiny_recipe

from neuralpde.config import apply_overrides, from_yaml
from neuralpde.datagen import generate
from neuralpde.training import TrainConfig, train

EXPERIMENTS = Path(__file__).parents[1] / "experiments"


@pytest.mark.parametrize("name", ["fno_ns"])
def test_experiment_config_trains(name, tmp_path):
    generate(tiny_recipe(store_velocity=False, t_end=1.6), tmp_path, progress=False)
    config = from_yaml(TrainConfig, EXPERIMENTS / name / "config.yaml")
    config = apply_overrides(config, [
        f"data.path={tmp_path / 'tiny'}", "steps=2", "log_every=1", "eval_every=2",
        "eval_batches=1", "checkpoint_every=2", "batch_size=4", "model.modes=[4, 4]",
        "model.width=4",
    ])
    result = train(config, tmp_path / "run", progress=False)
    assert result.steps == 2 and result.final_loss > 0
