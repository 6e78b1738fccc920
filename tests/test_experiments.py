"""Smoke tests of the experiments' configs: each trains two steps on tiny data, as written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import tiny_recipe

from neuralpde.config import apply_overrides, from_yaml, to_yaml
from neuralpde.datagen import generate
from neuralpde.training import TrainConfig, train

EXPERIMENTS = Path(__file__).parents[1] / "experiments"
CONFIGS = sorted(p.relative_to(EXPERIMENTS) for p in EXPERIMENTS.glob("*/*.yaml"))
# Compiling a convolutional train step takes about 45 s on two cores: run those with -m slow.
SLOW = {"unet", "sinenet4"}

# Shrink each model to seconds; everything else runs as configured.
SMALL = {
    "fno": ["model.modes=[4, 4]", "model.width=4"],
    "unet": ["model.hidden_channels=4"],
    "sinenet": ["model.hidden_channels=4", "model.waves=1"],
    "factformer": ["model.dim=8", "model.depth=1", "model.heads=1", "model.dim_head=4"],
}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    recipe = tiny_recipe(store_velocity=False, t_end=1.6)
    generate(recipe, root, progress=False)
    (root / "tiny.yaml").write_text(to_yaml(recipe))  # for online configs
    return root / "tiny"


def test_every_experiment_has_a_readme_and_a_config_or_a_script():
    folders = [p for p in EXPERIMENTS.iterdir() if p.is_dir()]
    assert folders and all((p / "README.md").exists() for p in folders)
    scripts = {p.parent.name for p in EXPERIMENTS.glob("*/run.py")}
    assert {p.parts[0] for p in CONFIGS} | scripts == {p.name for p in folders}


def test_conservation_experiment_runs_on_a_small_setting(tmp_path):
    out = tmp_path / "conservation"
    subprocess.run([sys.executable, str(EXPERIMENTS / "conservation_gpme" / "run.py"), "--out",
                    str(out), "--problems", "stefan", "--counts", "4", "2", "2", "--steps", "4",
                    "--members", "2"], check=True, capture_output=True)
    results = json.loads((out / "results.json").read_text())["stefan"]["variants"]
    assert set(results) == {"unconstrained", "soft", "hard", "probabilistic", "ensemble",
                            "head + update", "head, no update", "solver (data)"}
    assert "log_likelihood" in results["probabilistic"] and "front_error" in results["hard"]
    assert "log_likelihood" in results["head + update"]


@pytest.mark.parametrize("path", [
    pytest.param(p, id=str(p), marks=[pytest.mark.slow] if p.stem in SLOW else [])
    for p in CONFIGS
])
def test_experiment_config_trains(path, tiny_data, tmp_path):
    config = from_yaml(TrainConfig, EXPERIMENTS / path)
    config = apply_overrides(config, [
        f"data.path={tiny_data}", "steps=2", "log_every=1", "eval_every=2", "eval_batches=1",
        "checkpoint_every=2", "batch_size=4", *SMALL[config.model.kind],
    ])
    if config.data.source == "online":  # the tiny recipe on the 4 test devices
        config = apply_overrides(config, [
            f"data.recipe={tiny_data.parent / 'tiny.yaml'}", "data.buffer_size=8",
            "data.refresh_fraction=0.5", "data.refresh_every=1",
        ])
    result = train(config, tmp_path / "run", progress=False)
    assert result.steps == 2 and result.final_loss > 0
