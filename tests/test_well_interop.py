"""Both directions with The Well's own code: its reader loads our files, ours loads its files."""

import numpy as np
import pytest
from helpers import tiny_recipe

from neuralpde.datagen import generate, split_file
from neuralpde.datagen.navier_stokes_recipe import Splits
from neuralpde.io import TrajectoryFile, validate

the_well = pytest.importorskip(
    "the_well", reason="The Well is not installed: pip install -e '.[interop]' to run this test"
)


def test_well_dataset_reads_our_files(tmp_path):
    from the_well.data import WellDataset

    recipe = tiny_recipe(splits=Splits(train=2, valid=1, test=0))
    generate(recipe, tmp_path, progress=False)
    dataset = WellDataset(path=str(tmp_path / recipe.name), well_split_name="train",
                          n_steps_input=2, n_steps_output=1, use_normalization=False)
    windows = recipe.n_frames - 2
    assert len(dataset) == 2 * windows
    sample = dataset[windows + 3]  # trajectory 1, window starting at frame 3
    with TrajectoryFile(split_file(tmp_path, recipe, "train")) as ours:
        expected = ours.fields(slice(1, 2), slice(3, 6))[0]
        viscosity = ours.scalar("viscosity")[1]
        energy = ours.scalar("energy")[1, 3:5]
    np.testing.assert_array_equal(sample["input_fields"].numpy(), expected[:2])
    np.testing.assert_array_equal(sample["output_fields"].numpy(), expected[2:])
    assert dataset.metadata.field_names[0] == ["vorticity"]
    assert sample["boundary_conditions"].tolist() == [[2.0, 2.0], [2.0, 2.0]]  # periodic
    scalar_names = ["viscosity", "energy", "enstrophy", "mean_vorticity", "drag", "domain_length"]
    constants = sample["constant_scalars"].numpy()
    assert constants[0] == pytest.approx(viscosity)
    series = sample["input_scalars"].numpy()
    np.testing.assert_allclose(series[:, 0], energy)
    assert len(constants) + series.shape[1] == len(scalar_names)


def test_our_reader_loads_the_wells_dummy_file(tmp_path):
    import h5py
    from the_well.utils.dummy_data import write_dummy_data

    path = tmp_path / "dummy.hdf5"
    write_dummy_data(str(path))
    assert validate(path, well_only=True) == [path]
    with TrajectoryFile(path) as ours, h5py.File(path) as raw:
        assert ours.dataset_name == "dummy_dataset"
        assert ours.channel_names() == ["field_x", "field_y"]
        np.testing.assert_array_equal(ours.fields(), raw["t1_fields/field"][...])
        np.testing.assert_array_equal(ours.constant_fields()[..., 0],
                                      raw["t0_fields/constant_field"][...])
        assert ours.scalar("a") == pytest.approx(0.25)
        assert ours.scalar("time_varying_scalar").shape == (ours.n_time,)
