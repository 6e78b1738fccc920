"""The HDF5 format: writer/reader round trip, atomicity, and the validator's verdicts."""

import h5py
import numpy as np
import pytest

from neuralpde.io import (
    CorruptFileError,
    FileLayout,
    TrajectoryFile,
    TrajectoryFileWriter,
    ValidationError,
    validate,
)


def layout(n=3, n_time=4, nx=8, ny=6):
    return FileLayout(
        dataset_name="demo",
        n_trajectories=n,
        time=np.linspace(0.0, 1.0, n_time),
        coordinates={"x": np.arange(nx) / nx, "y": np.arange(ny) / ny},
        boundary_types={"x": "PERIODIC", "y": "WALL"},
        fields={"vorticity": 0, "velocity": 1},
        sample_scalars=("viscosity",),
        time_series=("energy",),
        constants={"drag": 0.1},
        provenance={"config": "name: demo", "seed": 3, "split": "train",
                    "package_version": "0", "git_revision": "abc"},
    )


def random_arrays(lay, rng, start=0, count=None):
    count = lay.n_trajectories if count is None else count
    n_time, (nx, ny) = len(lay.time), lay.spatial_shape
    return {
        "vorticity": rng.standard_normal((count, n_time, nx, ny)).astype(np.float32),
        "velocity": rng.standard_normal((count, n_time, nx, ny, 2)).astype(np.float32),
        "viscosity": rng.uniform(size=count).astype(np.float32),
        "energy": rng.uniform(size=(count, n_time)).astype(np.float32),
        "trajectory_index": np.arange(start, start + count),
    }


def write_demo(path, rng, lay=None):
    lay = lay or layout()
    arrays = random_arrays(lay, rng)
    with TrajectoryFileWriter(path, lay) as writer:
        writer.write(0, {k: v[:2] for k, v in arrays.items()})
        writer.write(2, {k: v[2:] for k, v in arrays.items()})
    return arrays


def test_round_trip_channels_last(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "data" / "train" / "demo.hdf5"
    arrays = write_demo(path, rng)
    assert validate(path) == [path]
    with TrajectoryFile(path) as f:
        assert f.complete and f.n_trajectories == 3 and f.n_time == 4
        assert f.channel_names() == ["vorticity", "velocity_x", "velocity_y"]
        fields = f.fields(slice(1, 3), slice(0, 2))
        np.testing.assert_array_equal(fields[..., 0], arrays["vorticity"][1:3, :2])
        np.testing.assert_array_equal(fields[..., 1:], arrays["velocity"][1:3, :2])
        assert f.boundary_types == {"x": ("PERIODIC", "PERIODIC"), "y": ("WALL", "WALL")}
        np.testing.assert_array_equal(f.scalar("viscosity"), arrays["viscosity"])
        assert f.provenance["seed"] == 3 and "created_utc" in f.provenance


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "demo.hdf5"
    with pytest.raises(RuntimeError, match="boom"), TrajectoryFileWriter(path, layout()) as w:
        w.write(0, {k: v[:1] for k, v in random_arrays(layout(), np.random.default_rng(0)).items()})
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_unfinished_writer_refuses_to_close(tmp_path):
    writer = TrajectoryFileWriter(tmp_path / "demo.hdf5", layout())
    with pytest.raises(ValueError, match="unwritten"):
        writer.close()
    writer._discard()


def test_validator_names_truncated_file(tmp_path):
    path = tmp_path / "demo.hdf5"
    write_demo(path, np.random.default_rng(0))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValidationError, match="truncated or corrupt"):
        validate(path)
    with pytest.raises(CorruptFileError):
        TrajectoryFile(path)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: f["t0_fields/vorticity"].__setitem__((1, 2, 0, 0), np.nan),
         "t0_fields/vorticity holds NaN or Inf \\(first in trajectory 1\\)"),
        (lambda f: f.attrs.__setitem__("complete", False), "unfinished"),
        (lambda f: f.attrs.__delitem__("n_trajectories"),
         "missing root attribute 'n_trajectories'"),
        (lambda f: f.attrs.__setitem__("n_trajectories", 5),
         "vorticity has shape \\(3, 4, 8, 6\\), expected \\(5, 4, 8, 6\\)"),
        (lambda f: f["t1_fields/velocity"].attrs.__delitem__("dim_varying"), "lacks attributes"),
        (lambda f: f["provenance"].attrs.__delitem__("git_revision"), "'git_revision'"),
        (lambda f: f["dimensions/time"].__setitem__(2, 0.0), "strictly increasing"),
        (lambda f: f["boundary_conditions/y_wall"].attrs.__setitem__("bc_type", "SPONGE"),
         "bc_type 'SPONGE'"),
        (lambda f: f.__delitem__("t2_fields"), "missing group 't2_fields'"),
    ],
)
def test_validator_names_what_is_wrong(tmp_path, damage, message):
    path = tmp_path / "demo.hdf5"
    write_demo(path, np.random.default_rng(0))
    with h5py.File(path, "r+") as f:
        damage(f)
    with pytest.raises(ValidationError, match=message):
        validate(path)


def test_validator_flags_interrupted_directory(tmp_path):
    write_demo(tmp_path / "ds" / "data" / "train" / "demo.hdf5", np.random.default_rng(0))
    (tmp_path / "ds" / ".partial" / "valid").mkdir(parents=True)
    with pytest.raises(ValidationError, match="interrupted generation"):
        validate(tmp_path / "ds")
    with pytest.raises(ValidationError, match=r"no \.hdf5 files"):
        validate(tmp_path / "ds" / ".partial")


def write_well_style_file(path, rng):
    """A file as The Well's ``dummy_data`` writes it (h5py only): a time-constant t0 field,
    a time-varying t1 field, constant and time-varying scalars, all-False periodic masks."""
    x, t = np.linspace(0, 1, 8, dtype=np.float32), np.linspace(0, 1, 5, dtype=np.float32)
    constant = rng.random((2, 8, 8)).astype(np.float32)
    vector = rng.random((2, 5, 8, 8, 2)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.attrs.update(dataset_name="dummy", grid_type="cartesian", n_spatial_dims=2,
                       n_trajectories=2, simulation_parameters=["a"], a=0.25)
        bcs = f.create_group("boundary_conditions")
        for dim in "xy":
            g = bcs.create_group(f"{dim}_periodic")
            g.attrs.update(associated_dims=dim, associated_fields=[], bc_type="PERIODIC",
                           sample_varying=False, time_varying=False)
            g.create_dataset("mask", data=np.zeros(8, bool))
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        for key, value in (("time", t), ("x", x), ("y", x)):
            dims.create_dataset(key, data=value).attrs["sample_varying"] = False
        scalars = f.create_group("scalars")
        scalars.attrs["field_names"] = ["a", "series"]
        scalars.create_dataset("a", data=np.array(0.25)).attrs.update(
            sample_varying=False, time_varying=False)
        scalars.create_dataset("series", data=rng.random(5)).attrs.update(
            sample_varying=False, time_varying=True)
        g = f.create_group("t0_fields")
        g.attrs["field_names"] = ["constant_field"]
        g.create_dataset("constant_field", data=constant).attrs.update(
            sample_varying=True, time_varying=False, dim_varying=[True, True])
        g = f.create_group("t1_fields")
        g.attrs["field_names"] = ["field"]
        g.create_dataset("field", data=vector).attrs.update(
            sample_varying=True, time_varying=True, dim_varying=[True, True])
        f.create_group("t2_fields").attrs["field_names"] = []
    return constant, vector


def test_reader_loads_the_wells_layout(tmp_path):
    path = tmp_path / "dummy.hdf5"
    constant, vector = write_well_style_file(path, np.random.default_rng(1))
    assert validate(path, well_only=True) == [path]
    with pytest.raises(ValidationError, match="provenance"):
        validate(path)
    with TrajectoryFile(path) as f:
        assert f.complete  # The Well's files carry no completion record
        assert f.channel_names() == ["field_x", "field_y"]
        assert f.channel_names(time_varying=False) == ["constant_field"]
        np.testing.assert_array_equal(f.fields(), vector)
        np.testing.assert_array_equal(f.constant_fields()[..., 0], constant)
        assert f.boundary_types["x"] == ("PERIODIC", "PERIODIC")
        assert f.scalar("series").shape == (5,)
