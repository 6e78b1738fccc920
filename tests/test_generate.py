"""The generator end to end: physics in the file, splits, sharding, blow-ups, bad input."""

import errno
import sys

import jax
import numpy as np
import pytest
import yaml
from helpers import tiny_recipe

from neuralpde.config import ConfigError, apply_overrides, from_dict
from neuralpde.datagen import BlowUpError, GenerationError, generate, load_recipe, split_file
from neuralpde.datagen.navier_stokes_recipe import EnergySpectrumField, NavierStokesRecipe
from neuralpde.io import DiskFullError, TrajectoryFile, ValidationError, validate


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    recipe = tiny_recipe()
    report = generate(recipe, out, progress=False)
    return recipe, out, report


def test_generated_files_validate_and_record_provenance(tiny_dataset):
    recipe, out, report = tiny_dataset
    assert [p.parent.name for p in report.files] == ["train", "valid", "test"]
    assert validate(out / recipe.name) == sorted(report.files, key=str)
    with TrajectoryFile(split_file(out, recipe, "train")) as f:
        assert f.n_trajectories == 6 and f.n_time == recipe.n_frames == 11
        assert f.channel_names() == ["vorticity", "velocity_x", "velocity_y"]
        assert from_dict(NavierStokesRecipe, yaml.safe_load(f.provenance["config"])) == recipe
        assert f.provenance["split"] == "train" and f.provenance["seed"] == recipe.seed
        np.testing.assert_array_equal(f.file["provenance/trajectory_index"][...], np.arange(6))
    assert not (out / recipe.name / ".partial").exists()


def test_stored_invariants_match_stored_fields(tiny_dataset):
    """Energy, enstrophy and mean vorticity in scalars/ are those of the stored fields, and the
    stored velocity is divergence-free with curl equal to the stored vorticity."""
    recipe, out, _ = tiny_dataset
    with TrajectoryFile(split_file(out, recipe, "valid")) as f:
        fields = f.fields()
        w, u, v = fields[..., 0], fields[..., 1], fields[..., 2]
        np.testing.assert_allclose(f.scalar("energy"), 0.5 * np.mean(u**2 + v**2, axis=(2, 3)),
                                   rtol=1e-5)
        np.testing.assert_allclose(f.scalar("enstrophy"), 0.5 * np.mean(w**2, axis=(2, 3)),
                                   rtol=1e-5)
        assert np.max(np.abs(f.scalar("mean_vorticity"))) < 1e-6
        assert np.max(np.abs(np.mean(w, axis=(2, 3)))) < 1e-6
        k = 2 * np.pi * np.fft.fftfreq(16, 1 / 16)
        u_hat, v_hat = np.fft.fft2(u), np.fft.fft2(v)
        curl = np.real(np.fft.ifft2(1j * k[:, None] * v_hat - 1j * k[None, :] * u_hat))
        divergence = np.real(np.fft.ifft2(1j * k[:, None] * u_hat + 1j * k[None, :] * v_hat))
        np.testing.assert_allclose(curl, w, atol=1e-4 * np.abs(w).max())
        assert np.abs(divergence).max() < 1e-4 * np.abs(w).max()


def test_viscosity_drawn_per_trajectory_within_range(tiny_dataset):
    recipe, out, _ = tiny_dataset
    with TrajectoryFile(split_file(out, recipe, "train")) as f:
        nu = f.scalar("viscosity")
    assert np.all((nu >= 1e-3) & (nu <= 1e-2)) and len(np.unique(nu)) == len(nu)


def test_splits_use_disjoint_streams(tiny_dataset):
    recipe, out, _ = tiny_dataset
    initial = {}
    for split in ("train", "valid", "test"):
        with TrajectoryFile(split_file(out, recipe, split)) as f:
            initial[split] = f.fields(times=slice(0, 1))[:, 0, ..., 0]
    frames = np.concatenate(list(initial.values()))
    distances = np.linalg.norm(frames[:, None] - frames[None], axis=(-2, -1))
    assert np.all(distances[~np.eye(len(frames), dtype=bool)] > 1e-3)


def test_same_data_on_one_and_four_devices(tmp_path, tiny_dataset):
    recipe, out, _ = tiny_dataset
    assert len(jax.devices()) == 4
    generate(recipe, tmp_path, devices=jax.devices()[:1], progress=False)
    for split in ("train", "test"):
        with TrajectoryFile(split_file(out, recipe, split)) as a, \
                TrajectoryFile(split_file(tmp_path, recipe, split)) as b:
            np.testing.assert_array_equal(a.fields(), b.fields())


def test_vectorized_and_sequential_generation_agree(tmp_path, tiny_dataset):
    """vmap over each device's trajectories (accelerators' default) and lax.map (CPUs') solve
    the same trajectories, to float32 round-off."""
    recipe, out, _ = tiny_dataset
    generate(recipe, tmp_path, vectorize=True, progress=False)
    for split in ("train", "test"):
        with TrajectoryFile(split_file(out, recipe, split)) as a, \
                TrajectoryFile(split_file(tmp_path, recipe, split)) as b:
            np.testing.assert_allclose(a.fields(), b.fields(), rtol=0,
                                       atol=1e-5 * np.abs(a.fields()).max())
            np.testing.assert_array_equal(a.scalar("viscosity"), b.scalar("viscosity"))


def test_refuses_to_overwrite_or_mix(tiny_dataset):
    recipe, out, _ = tiny_dataset
    with pytest.raises(GenerationError, match="already holds data"):
        generate(recipe, out, progress=False)
    with pytest.raises(GenerationError, match="holds another recipe"):
        generate(recipe.replace(seed=1), out, resume=True, progress=False)


def test_blow_up_names_trajectory_and_time(tmp_path):
    recipe = tiny_recipe(dt=0.05, viscosity=1e-3,
                         initial_condition=EnergySpectrumField(energy=50.0))
    with pytest.raises(BlowUpError, match=r"blow-up in train trajectory 0 at t=0: CFL number"):
        generate(recipe, tmp_path, progress=False)
    assert not split_file(tmp_path, recipe, "train").exists()
    with pytest.raises(ValidationError):
        validate(tmp_path / recipe.name)


def test_nan_blow_up_is_reported(tmp_path):
    recipe = tiny_recipe(dt=0.05, cfl_max=1e30, viscosity=1e-3,
                         initial_condition=EnergySpectrumField(energy=1e4))
    with pytest.raises(BlowUpError, match=r"trajectory \d+ at t=[\d.]+: NaN or Inf"):
        generate(recipe, tmp_path, progress=False)


def test_disk_full_is_a_clear_error_and_keeps_finished_chunks(tmp_path, monkeypatch):
    module = sys.modules["neuralpde.datagen.generate"]
    real_savez, calls = np.savez, []

    def savez_then_full(handle, **arrays):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_savez(handle, **arrays)

    monkeypatch.setattr(module.np, "savez", savez_then_full)
    recipe = tiny_recipe(chunk_size=2)
    one_device = jax.devices()[:1]  # chunks of 2: the first is saved, the second hits the full disk
    with pytest.raises(DiskFullError, match=r"disk full.*--resume"):
        generate(recipe, tmp_path, progress=False, devices=one_device)
    chunks = sorted((tmp_path / recipe.name / ".partial" / "train").iterdir())
    assert [c.name for c in chunks] == ["chunk_00000000.npz"]
    monkeypatch.setattr(module.np, "savez", real_savez)
    generate(recipe, tmp_path, resume=True, progress=False, devices=one_device)
    validate(tmp_path / recipe.name)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: load_recipe("no-such-recipe"),
         r"unknown recipe 'no-such-recipe'; known.*ns2d-tiny"),
        (lambda: apply_overrides(tiny_recipe(), ["forcing.kind=magnetic"]),
         r"unknown kind 'magnetic'; known kinds: \['fno', 'kolmogorov', 'none'\]"),
        (lambda: apply_overrides(tiny_recipe(), ["initial_condition.kind=vortex_street"]),
         r"known kinds: \['energy_spectrum', 'fno_grf', 'taylor_green'\]"),
        (lambda: tiny_recipe(viscosity=-1e-3), "viscosity must be finite and >= 0"),
        (lambda: tiny_recipe(store_resolution=64), "finer than the solve grid"),
        (lambda: tiny_recipe(store_interval=0.03), "not a whole number of steps"),
        (lambda: apply_overrides(tiny_recipe(), ["viscossity=1"]), "unknown key 'viscossity'"),
        (lambda: apply_overrides(tiny_recipe(), ["stepper=rk45"]), "not one of"),
    ],
)
def test_bad_input_gets_a_clear_message(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_unwritable_output_path(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(GenerationError, match="cannot write to output directory"):
        generate(tiny_recipe(), blocker / "sub", progress=False)


def test_overrides_parse_yaml_values():
    recipe = apply_overrides(tiny_recipe(), ["viscosity=1e-4", "splits.train=3",
                                             "forcing.kind=kolmogorov"])
    assert recipe.viscosity == 1e-4 and recipe.splits.train == 3
    assert recipe.forcing.kind == "kolmogorov" and recipe.forcing.wavenumber == 4
