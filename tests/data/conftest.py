"""One tiny generated dataset and The Well's dummy file, shared by the data tests."""

import shutil

import h5py
import pytest
from helpers import tiny_recipe

from neuralpde.datagen import generate


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """``<root>/tiny`` with train (6 trajectories), valid (2) and test (2); 11 frames of 16²."""
    root = tmp_path_factory.mktemp("data")
    recipe = tiny_recipe()
    generate(recipe, root, progress=False)
    return root / recipe.name


@pytest.fixture(scope="session")
def train_file(dataset):
    return dataset / "data" / "train" / "tiny_train.hdf5"


@pytest.fixture
def copy_file(train_file, tmp_path):
    """Copy the training file to ``tmp_path/<name>``, optionally editing it with ``edit(h5)``."""

    def copy(name="copy.hdf5", edit=None, folder=None):
        target = (folder or tmp_path) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(train_file, target)
        if edit is not None:
            with h5py.File(target, "r+") as h5:
                edit(h5)
        return target

    return copy


@pytest.fixture(scope="session")
def well_dataset(tmp_path_factory):
    """The Well's dummy file (2 trajectories, 10 frames of 32², channels ``field_x, field_y``)
    as the train split of ``<root>/dummy``."""
    dummy_data = pytest.importorskip("the_well.utils.dummy_data")
    root = tmp_path_factory.mktemp("well") / "dummy"
    path = root / "data" / "train" / "dummy.hdf5"
    path.parent.mkdir(parents=True)
    dummy_data.write_dummy_data(str(path))
    return root
