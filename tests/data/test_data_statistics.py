"""Channel statistics against NumPy over the whole split, stats.yaml in The Well's layout."""

import logging
import os

import numpy as np
import pytest
import yaml

import neuralpde.data.statistics as statistics_module
import neuralpde.data.stats_file as stats_file_module
from neuralpde.data import (
    DataError,
    TrajectoryWindows,
    compute_statistics,
    load_normalization,
    normalization_for,
    save_normalization,
    split_files,
)
from neuralpde.io import TrajectoryFile


def split_arrays(dataset, split):
    fields, viscosity = [], []
    for path in split_files(dataset, split):
        with TrajectoryFile(path) as f:
            fields.append(f.fields().astype(np.float64))
            viscosity.append(f.scalar("viscosity"))
    return np.concatenate(fields), np.concatenate(viscosity).astype(np.float64)


@pytest.mark.parametrize("chunk_values", [statistics_module.CHUNK_VALUES, 16 * 16 * 3 * 3])
def test_statistics_equal_numpy_over_the_whole_split(dataset, monkeypatch, chunk_values):
    """Also with chunks of two frames, so that increments across chunk edges are counted once."""
    monkeypatch.setattr(statistics_module, "CHUNK_VALUES", chunk_values)
    fields, viscosity = split_arrays(dataset, "train")
    stats = compute_statistics(split_files(dataset, "train"), ["viscosity"])
    norm = stats.normalization
    axes = (0, 1, 2, 3)
    np.testing.assert_allclose(norm.mean, fields.mean(axes), rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(norm.std, fields.std(axes), rtol=1e-5)
    delta = np.diff(fields, axis=1)
    np.testing.assert_allclose(stats.mean_delta, delta.mean(axes), rtol=1e-4, atol=1e-12)
    np.testing.assert_allclose(stats.std_delta, delta.std(axes), rtol=1e-5)
    np.testing.assert_allclose(stats.rms, np.sqrt(np.mean(fields**2, axes)), rtol=1e-5)
    np.testing.assert_allclose(stats.rms_delta, np.sqrt(np.mean(delta**2, axes)), rtol=1e-5)
    np.testing.assert_allclose(norm.parameter_mean, [viscosity.mean()], rtol=1e-6)
    np.testing.assert_allclose(norm.parameter_std, [viscosity.std()], rtol=1e-5)
    assert norm.channel_names == ("vorticity", "velocity_x", "velocity_y")
    assert norm.parameter_names == ("viscosity",)


def test_the_training_normalization_is_what_validation_data_get(dataset):
    norm = normalization_for(split_files(dataset, "train"), ["viscosity"])
    valid = TrajectoryWindows(split_files(dataset, "valid"), 2, 1, parameters=["viscosity"])
    window = valid[3]
    fields, _ = split_arrays(dataset, "train")
    expected = (window["input"] - fields.mean((0, 1, 2, 3))) / fields.std((0, 1, 2, 3))
    np.testing.assert_allclose(norm.normalize(window["input"]), expected, rtol=1e-4, atol=1e-6)
    valid_fields, _ = split_arrays(dataset, "valid")
    assert not np.allclose(norm.std, valid_fields.std((0, 1, 2, 3)), rtol=1e-3)


def test_nan_or_inf_names_the_file_trajectory_channel_and_frame(copy_file):
    def poison(h5):
        h5["t1_fields/velocity"][3, 5, 2, 7, 1] = np.inf

    bad = copy_file("poisoned.hdf5", poison)
    with pytest.raises(DataError, match=r"poisoned\.hdf5: NaN or Inf in trajectory 3 .*"
                                        r"channel 'velocity_y', frame 5"):
        compute_statistics([bad])


def test_a_constant_channel_gets_unit_std(copy_file, caplog):
    def freeze(h5):
        h5["t1_fields/velocity"][..., 1] = 0.5

    path = copy_file("frozen.hdf5", freeze)
    with caplog.at_level(logging.WARNING, logger="neuralpde.data.statistics"):
        norm = compute_statistics([path]).normalization
    assert norm.mean[2] == pytest.approx(0.5) and norm.std[2] == 1.0
    assert norm.std[0] != 1.0
    assert "'velocity_y' is constant" in caplog.text


def test_stats_yaml_round_trips_in_the_wells_layout(dataset, tmp_path):
    stats = compute_statistics(split_files(dataset, "train"), ["viscosity"])
    path = save_normalization(stats, tmp_path / "stats.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.yaml"]  # no temporary left
    raw = yaml.safe_load(path.read_text())
    assert list(raw["mean"]) == ["vorticity", "velocity"] and len(raw["std"]["velocity"]) == 2
    assert {"mean_delta", "std_delta", "rms", "rms_delta", "neuralpde"} <= raw.keys()
    assert raw["std"]["velocity"][1] == pytest.approx(float(stats.normalization.std[2]))
    loaded = load_normalization(path)
    for key in ("mean", "std", "parameter_mean", "parameter_std"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(stats.normalization, key))
    assert loaded.channel_names == stats.normalization.channel_names
    assert loaded.parameter_names == ("viscosity",)


def test_the_wells_normalization_reads_our_stats_yaml(dataset, tmp_path):
    normalization = pytest.importorskip("the_well.data.normalization")
    stats = compute_statistics(split_files(dataset, "train"))
    path = save_normalization(stats, tmp_path / "stats.yaml")
    theirs = normalization.ZScoreNormalization(yaml.safe_load(path.read_text()),
                                               ["vorticity", "velocity"], [])
    np.testing.assert_allclose(theirs.flattened_means["variable"].numpy(),
                               stats.normalization.mean, rtol=1e-6)
    np.testing.assert_allclose(theirs.flattened_stds_delta["variable"].numpy(), stats.std_delta,
                               rtol=1e-6)


def test_normalization_for_caches_and_notices_changed_files(dataset, copy_file, tmp_path,
                                                             monkeypatch):
    files = [copy_file("ds/data/train/a.hdf5")]
    stats_path = tmp_path / "ds" / "stats.yaml"
    first = normalization_for(files, ["viscosity"])
    assert stats_path.exists()

    def refuse(*_):
        raise AssertionError("recomputed although stats.yaml is current")

    monkeypatch.setattr(stats_file_module, "compute_statistics", refuse)
    second = normalization_for(files, ["viscosity"])
    np.testing.assert_array_equal(first.std, second.std)
    with pytest.raises(AssertionError, match="recomputed"):
        normalization_for(files, [])  # other parameters
    os.utime(files[0], ns=(0, 10**18))
    with pytest.raises(AssertionError, match="recomputed"):
        normalization_for(files, ["viscosity"])  # the file changed


def test_the_wells_own_stats_yaml_loads_and_is_never_overwritten(well_dataset):
    from neuralpde.io import TrajectoryFile as Reader

    files = split_files(well_dataset, "train")
    with Reader(files[0]) as f:
        field = f.fields().astype(np.float64)
    theirs = {
        "mean": {"field": field.mean((0, 1, 2, 3)).tolist(), "constant_field": 0.5},
        "std": {"field": field.std((0, 1, 2, 3)).tolist(), "constant_field": 0.3},
        "mean_delta": {"field": [0.0, 0.0]}, "std_delta": {"field": [1.0, 1.0]},
    }
    path = well_dataset / "stats.yaml"
    path.write_text(yaml.safe_dump(theirs))
    norm = load_normalization(path)
    assert norm.channel_names == ("field_x", "field_y") and norm.parameter_names == ()
    np.testing.assert_allclose(norm.mean, theirs["mean"]["field"], rtol=1e-6)
    np.testing.assert_allclose(norm.std, theirs["std"]["field"], rtol=1e-6)
    before = path.read_text()
    norm = normalization_for(files, ["a"])
    assert path.read_text() == before
    assert norm.parameter_names == ("a",) and norm.parameter_mean[0] == pytest.approx(0.25)
    assert norm.parameter_std[0] == 1.0  # constant over trajectories
    np.testing.assert_allclose(norm.mean, theirs["mean"]["field"], rtol=1e-6)


def test_a_malformed_stats_yaml_is_refused(tmp_path, train_file):
    path = tmp_path / "stats.yaml"
    path.write_text("just: text\n")
    with pytest.raises(DataError, match=r"not a stats\.yaml"):
        load_normalization(path, [train_file])
    path.write_text(yaml.safe_dump({"mean": {"vorticity": 0.0}, "std": {"vorticity": 1.0}}))
    with pytest.raises(DataError, match="no 'mean' for field 'velocity'"):
        load_normalization(path, [train_file])
