"""Windows and whole trajectories hold exactly the stored frames, from any number of files."""

import pickle
import typing

import h5py
import numpy as np
import pytest
from data_helpers import scale_fields
from jaxtyping import jaxtyped

from neuralpde.data import DataError, Trajectories, TrajectoryWindows
from neuralpde.data._trajectory_set import TrajectorySet
from neuralpde.io import TrajectoryFile


def stored(path):
    with TrajectoryFile(path) as f:
        return f.fields(), f.scalar("viscosity")


@pytest.mark.parametrize(("history", "future", "stride"), [(2, 1, 1), (3, 2, 1), (4, 2, 3)])
def test_every_window_is_the_stored_frames_at_its_indices(train_file, history, future, stride):
    fields, viscosity = stored(train_file)
    n_traj, n_time = fields.shape[:2]
    windows = TrajectoryWindows([train_file], history, future, stride=stride,
                                parameters=["viscosity"])
    starts = range(0, n_time - history - future + 1, stride)
    assert len(windows) == n_traj * len(starts)
    if stride == 1:
        assert len(windows) == n_traj * (n_time - history - future + 1)
    seen = []
    for j in range(len(windows)):
        window = windows[j]
        t, s = int(window["trajectory"]), int(window["start"])
        seen.append((t, s))
        np.testing.assert_array_equal(window["input"], fields[t, s : s + history])
        np.testing.assert_array_equal(window["target"],
                                      fields[t, s + history : s + history + future])
        np.testing.assert_array_equal(window["conditioning"], viscosity[t : t + 1])
        assert window["input"].dtype == window["target"].dtype == np.float32
        assert window["trajectory"].dtype == window["start"].dtype == np.int64
    assert sorted(seen) == [(t, s) for t in range(n_traj) for s in starts]
    assert windows.channel_names == ("vorticity", "velocity_x", "velocity_y")
    assert windows.spatial_shape == (16, 16) and windows.parameters == ("viscosity",)
    assert (windows.n_trajectories, windows.n_time) == (n_traj, n_time)
    assert (windows.history, windows.future) == (history, future)
    with pytest.raises(IndexError):
        windows[len(windows)]


def test_trajectories_are_numbered_across_files(train_file, copy_file):
    doubled = copy_file("doubled.hdf5", lambda h5: scale_fields(h5, 2.0))
    fields, viscosity = stored(train_file)
    windows = TrajectoryWindows([train_file, doubled], 2, 1, parameters=["viscosity"])
    per = windows.windows_per_trajectory
    assert windows.n_trajectories == 12 and len(windows) == 12 * per
    window = windows[8 * per + 3]  # trajectory 2 of the second file, start 3
    assert (int(window["trajectory"]), int(window["start"])) == (8, 3)
    np.testing.assert_array_equal(window["input"], 2.0 * fields[2, 3:5])
    np.testing.assert_array_equal(window["conditioning"], viscosity[2:3])

    trajectories = Trajectories([train_file, doubled], parameters=["viscosity"])
    assert len(trajectories) == 12 and trajectories.n_time == fields.shape[1]
    np.testing.assert_array_equal(trajectories[1]["fields"], fields[1])
    np.testing.assert_array_equal(trajectories[7]["fields"], 2.0 * fields[1])
    assert int(trajectories[7]["trajectory"]) == 7
    np.testing.assert_array_equal(trajectories[7]["conditioning"], viscosity[1:2])


def test_reads_match_their_shape_annotation(train_file):
    hint = typing.get_type_hints(TrajectorySet.read)["return"]
    with jaxtyped("context"):
        assert isinstance(TrajectorySet([train_file]).read(2, slice(3, 7)), hint)
    with jaxtyped("context"):
        assert not isinstance(np.zeros((4, 16, 16, 3), np.int32), hint)


def test_a_window_reads_only_its_frames(train_file, monkeypatch):
    reads = []
    original = h5py.Dataset.__getitem__

    def spy(self, selection, *args, **kwargs):
        reads.append((self.name, selection))
        return original(self, selection, *args, **kwargs)

    windows = TrajectoryWindows([train_file], 3, 2)
    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    windows[windows.windows_per_trajectory * 4 + 5]
    assert reads == [("/t0_fields/vorticity", (4, slice(5, 10))),
                     ("/t1_fields/velocity", (4, slice(5, 10)))]


def test_windows_survive_pickling_and_reopen_their_files(train_file):
    windows = TrajectoryWindows([train_file], 2, 1, parameters=["viscosity"])
    before = windows[17]
    clone = pickle.loads(pickle.dumps(windows))
    after = clone[17]
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])
    windows.close()
    np.testing.assert_array_equal(windows[17]["input"], before["input"])


def test_bad_window_and_parameter_requests(train_file):
    with pytest.raises(DataError, match=r"history 8 \+ future 4 frames does not fit in 11"):
        TrajectoryWindows([train_file], 8, 4)
    with pytest.raises(DataError, match=r"no scalar 'reynolds'.*'viscosity'"):
        TrajectoryWindows([train_file], 2, 1, parameters=["reynolds"])
    with pytest.raises(DataError, match=r"'energy' has shape \(6, 11\)"):
        TrajectoryWindows([train_file], 2, 1, parameters=["energy"])
    with pytest.raises(DataError, match="stride must be a positive integer"):
        TrajectoryWindows([train_file], 2, 1, stride=0)
    with pytest.raises(DataError, match="no trajectory files"):
        TrajectoryWindows([], 2, 1)


def test_the_wells_dummy_file_is_a_window_source(well_dataset):
    path = well_dataset / "data" / "train" / "dummy.hdf5"
    windows = TrajectoryWindows([path], 4, 2, parameters=["a", "b"])
    assert windows.channel_names == ("field_x", "field_y")
    assert windows.spatial_shape == (32, 32) and len(windows) == 2 * (10 - 6 + 1)
    with h5py.File(path) as raw:
        field = raw["t1_fields/field"][...]
    window = windows[7]  # trajectory 1, start 2
    np.testing.assert_array_equal(window["input"], field[1, 2:6])
    np.testing.assert_array_equal(window["target"], field[1, 6:8])
    np.testing.assert_array_equal(window["conditioning"], np.float32([0.25, 0.75]))
