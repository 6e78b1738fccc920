"""Online training: a generator refreshes an on-device buffer; the stream is new and resumable."""


import jax
import numpy as np
import pytest
import yaml
from helpers import tiny_recipe, train_killed_and_resumed

from neuralpde.config import ConfigError, from_dict, to_yaml
from neuralpde.data import OnlineBatches, TrajectoryWindows, data_mesh, split_files
from neuralpde.datagen import generate
from neuralpde.datagen.navier_stokes_recipe import Splits
from neuralpde.training import TrainConfig, train
from neuralpde.training.online_source import online_stream
from neuralpde.training.run_log import read_log


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """The tiny recipe as a YAML file, and its dataset (train, valid and test) on disk."""
    root = tmp_path_factory.mktemp("online")
    recipe = tiny_recipe(splits=Splits(train=8, valid=2, test=2))
    generate(recipe, root, progress=False)
    path = root / "tiny.yaml"
    path.write_text(to_yaml(recipe))
    return root / "tiny", path


def online_config(stored, **data_changes) -> TrainConfig:
    dataset, recipe = stored
    data = {"path": str(dataset), "history": 2, "parameters": ["viscosity"], "num_threads": 1,
            "source": "online", "recipe": str(recipe), "buffer_size": 8, "refresh_every": 3,
            "refresh_fraction": 0.5, **data_changes}
    return from_dict(TrainConfig, {
        "data": data,
        "model": {"kind": "fno", "in_channels": 6, "out_channels": 3, "modes": [4, 4],
                  "width": 8, "depth": 2, "n_conditioning": 1},
        "objective": {"kind": "unrolled", "steps": 2},
        "optimizer": {"learning_rate": 1e-2, "warmup_steps": 2},
        "steps": 24, "batch_size": 4, "log_every": 2, "eval_every": 8, "eval_batches": 2,
        "checkpoint_every": 4,
    })


def batches_of(stored, mesh=None, **data_changes) -> tuple[OnlineBatches, TrajectoryWindows]:
    config = online_config(stored, **data_changes)
    valid = TrajectoryWindows(split_files(config.data.path, "valid"), history=2,
                              parameters=config.data.parameters)
    stream = online_stream(config.data, valid, future=2)
    return OnlineBatches(stream, 4, mesh=mesh or data_mesh(), seed=0), valid


def test_the_stream_extends_the_stored_train_split(stored):
    batches, _ = batches_of(stored)
    offline = TrajectoryWindows(split_files(stored[0], "train"), history=2, future=2,
                                parameters=["viscosity"])
    for _ in range(4):  # the refresh at step 3 replaces group 0 (trajectories 0…3) by group 2
        batch = next(batches)
    buffer = jax.device_get(batches._buffer)
    held = sorted(buffer["trajectory"].tolist())
    assert held == list(range(4, 12))
    compared = 0
    for slot, trajectory in enumerate(buffer["trajectory"]):
        if trajectory < offline.n_trajectories:  # the offline split holds trajectories 0…7
            compared += 1
            frames = offline._set.read(int(trajectory))
            np.testing.assert_allclose(buffer["frames"][slot], frames, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(buffer["conditioning"][slot],
                                       offline._set.conditioning[trajectory], rtol=1e-6)
    assert compared == 4
    # A batch's windows are cut from the buffer as TrajectoryWindows cuts them.
    batch = jax.device_get(batch)
    for row in range(4):
        slot = list(buffer["trajectory"]).index(batch["trajectory"][row])
        start = int(batch["start"][row])
        np.testing.assert_array_equal(batch["input"][row], buffer["frames"][slot][start:start + 2])
        np.testing.assert_array_equal(batch["target"][row],
                                      buffer["frames"][slot][start + 2:start + 4])
    assert batch["mask"].all()


def test_resuming_regenerates_the_same_buffer_and_batches(stored):
    mesh = data_mesh(jax.devices()[:2])
    uninterrupted, valid = batches_of(stored, mesh, parameters=[])
    normalization = uninterrupted.warm_up_normalization(valid.channel_names, ())
    frames = jax.device_get(uninterrupted._buffer["frames"]).astype(np.float64)
    std = frames.std(axis=(0, 1, 2, 3))
    np.testing.assert_allclose(normalization.std, std, rtol=1e-5)
    np.testing.assert_allclose(normalization.mean, frames.mean(axis=(0, 1, 2, 3)), rtol=0,
                               atol=1e-6 * std.max())
    reference = [jax.device_get(next(uninterrupted)) for _ in range(11)]
    resumed, _ = batches_of(stored, mesh, parameters=[])
    state = dict(uninterrupted.get_state(), step=6)
    resumed.set_state(state)
    for step in range(6, 11):
        batch = jax.device_get(next(resumed))
        for name, value in reference[step].items():
            np.testing.assert_array_equal(batch[name], value, err_msg=f"{name} at step {step}")
    other, _ = batches_of(stored, mesh, parameters=[], refresh_every=4)
    with pytest.raises(Exception, match="refresh_every"):
        other.set_state(state)


def test_online_run_trains_resumes_after_sigkill_and_never_repeats_a_trajectory(stored, tmp_path):
    config = online_config(stored)
    reference, run, logged = train_killed_and_resumed(config, tmp_path, kill_at=12)
    assert logged < 24

    losses = [r["loss"] for r in read_log(run) if "loss" in r]
    assert len(losses) == 24
    assert losses == [r["loss"] for r in read_log(reference) if "loss" in r]  # bit for bit
    assert np.mean(losses[-4:]) < 0.9 * np.mean(losses[:4]), losses  # it learns
    generated = [(r["step"], r["generated_first"], r["generated_count"])
                 for r in read_log(run) if "generated_first" in r]
    assert generated == [r for r in ((r["step"], r["generated_first"], r["generated_count"])
                                     for r in read_log(reference) if "generated_first" in r)]
    # Steps 0, 3, …, 21: the initial 8, then 7 refreshes of 4, each trajectory index once.
    seeds = [i for _, first, count in generated for i in range(first, first + count)]
    assert len(seeds) == len(set(seeds)) == 8 + 7 * 4
    assert seeds == list(range(len(seeds)))
    assert [step for step, _, _ in generated] == list(range(0, 24, 3))
    normalization = yaml.safe_load((run / "normalization.yaml").read_text())
    assert normalization == yaml.safe_load((reference / "normalization.yaml").read_text())


def test_online_config_errors_name_the_problem(stored, tmp_path):
    with pytest.raises(ConfigError, match="whole number that divides"):
        online_config(stored, refresh_fraction=0.3)
    with pytest.raises(ConfigError, match="needs a generator recipe"):
        online_config(stored, recipe=None)
    with pytest.raises(ConfigError, match="only with source: online"):
        online_config(stored, source="files")
    other = tmp_path / "other.yaml"
    other.write_text(to_yaml(tiny_recipe(viscosity=(1e-4, 1e-3))))
    with pytest.raises(ConfigError, match="not the one that wrote the valid split"):
        train(online_config(stored, recipe=str(other)), tmp_path / "run", progress=False)
    with pytest.raises(Exception, match="multiples of the 4 devices"):
        batches_of(stored, refresh_fraction=0.25)  # 2 trajectories per refresh on 4 devices
