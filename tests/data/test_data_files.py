"""Finding a split's files, and refusing files that cannot be read together."""

import shutil

import h5py
import numpy as np
import pytest

from neuralpde.data import DataError, split_files


def test_a_split_is_found_from_the_dataset_its_folder_or_a_file(dataset, train_file):
    assert split_files(dataset, "train") == [train_file]
    assert split_files(dataset / "data" / "valid", "valid") == [
        dataset / "data" / "valid" / "tiny_valid.hdf5"]
    assert split_files(train_file, "valid") == [train_file]


def test_files_are_sorted_and_hidden_temporaries_ignored(copy_file, tmp_path):
    folder = tmp_path / "ds" / "data" / "train"
    for name in ("b.hdf5", "a.h5", "c.hdf5", ".c.hdf5.tmp", ".hidden.hdf5"):
        copy_file(name, folder=folder)
    (folder / "notes.txt").write_text("not data")
    assert [p.name for p in split_files(tmp_path / "ds", "train")] == [
        "a.h5", "b.hdf5", "c.hdf5"]


def test_missing_directory_and_missing_or_empty_split(dataset, tmp_path):
    with pytest.raises(DataError, match="no such dataset directory"):
        split_files(tmp_path / "nowhere", "train")
    with pytest.raises(DataError, match="no folder for split 'extra'"):
        split_files(dataset, "extra")
    (tmp_path / "ds" / "data" / "valid").mkdir(parents=True)
    with pytest.raises(DataError, match=r"empty split 'valid' in .*ds"):
        split_files(tmp_path / "ds", "valid")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h5: h5.attrs.__setitem__("n_trajectories", 0), "zero trajectories"),
        (lambda h5: h5.attrs.__setitem__("complete", False), "incomplete file"),
        (lambda h5: h5.__delitem__("dimensions"), "corrupt file"),
    ],
    ids=["empty", "incomplete", "missing-group"],
)
def test_unusable_files_are_named(copy_file, tmp_path, edit, message):
    copy_file("ds/data/train/bad.hdf5", edit)
    copy_file("ds/data/train/good.hdf5")
    with pytest.raises(DataError, match=message) as error:
        split_files(tmp_path / "ds", "train")
    assert "bad.hdf5" in str(error.value)


def test_a_truncated_file_is_reported_corrupt(train_file, tmp_path):
    bad = tmp_path / "train" / "truncated.hdf5"
    bad.parent.mkdir()
    bad.write_bytes(train_file.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"corrupt file: .*truncated\.hdf5.*not a readable"):
        split_files(bad.parent, "train")


def test_files_of_a_split_must_agree_in_channels_and_grid(train_file, well_dataset, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(train_file, folder / "a.hdf5")
    shutil.copy(well_dataset / "data" / "train" / "dummy.hdf5", folder / "b.hdf5")
    with pytest.raises(DataError, match=r"channel names: .*'vorticity'.*'field_x'"):
        split_files(folder, "train")

    folder = tmp_path / "grids"
    folder.mkdir()
    shutil.copy(well_dataset / "data" / "train" / "dummy.hdf5", folder / "a.hdf5")
    shutil.copy(well_dataset / "data" / "train" / "dummy.hdf5", folder / "b.hdf5")
    with h5py.File(folder / "b.hdf5", "r+") as h5:
        coarse = h5["t1_fields/field"][:, :, ::2, ::2]
        attrs = dict(h5["t1_fields/field"].attrs)
        del h5["t1_fields/field"], h5["dimensions/x"], h5["dimensions/y"]
        h5["t1_fields"].create_dataset("field", data=coarse).attrs.update(attrs)
        for axis in ("x", "y"):
            h5["dimensions"].create_dataset(axis, data=np.linspace(0, 1, 16, dtype=np.float32))
    with pytest.raises(DataError, match=r"spatial shape: .*\(32, 32\).*\(16, 16\)"):
        split_files(folder, "train")
