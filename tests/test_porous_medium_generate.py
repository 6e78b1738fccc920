"""Porous-medium datasets: the shared generator writes valid files that balance their mass.

The file alone must let a user check ``mass(t) − mass(0) = Σ boundary inflow`` and compare with
the exact solution the recipe names; a trajectory does not depend on which others share its
batch; failures name the trajectory and leave no finished file behind.
"""

import numpy as np
import pytest

from neuralpde.cli import main
from neuralpde.config import ConfigError, apply_overrides
from neuralpde.datagen import SolverStalledError, generate, load_recipe
from neuralpde.datagen.porous_medium import build
from neuralpde.io import TrajectoryFile, validate

TINY = ["gpme-heat-tiny", "gpme-pme-tiny", "gpme-stefan-tiny", "gpme-barenblatt-2d-tiny"]
# L1 distance (per unit volume) to the exact cell averages at 16-32 cells per axis.
EXACT_TOLERANCE = {"gpme-heat-tiny": 2e-3, "gpme-pme-tiny": 2e-2, "gpme-stefan-tiny": 3e-2,
                   "gpme-barenblatt-2d-tiny": 3e-2}


def read(path):
    with TrajectoryFile(path) as f:
        names = f.scalar_names
        return f.fields()[..., 0], {n: f.scalar(n) for n in names}, f.boundary_types, f.time


@pytest.mark.parametrize("name", TINY)
def test_tiny_recipe_writes_a_valid_mass_balanced_file(name, tmp_path):
    import jax
    import jax.numpy as jnp

    recipe = load_recipe(name)
    report = generate(recipe, tmp_path, progress=False)
    assert validate(tmp_path / name)
    u, scalars, boundaries, time = read(report.files[0])
    assert u.shape[1] == recipe.n_frames and u.shape[2:] == tuple(recipe.resolution)

    flux = sum(v for k, v in scalars.items() if k.startswith("boundary_flux_"))
    mass = scalars["mass"]
    scale = np.abs(mass).max() + np.abs(flux).sum(axis=1).max()
    balance = mass - mass[:, :1] - np.cumsum(flux, axis=1)
    assert np.abs(balance).max() < 1e-6 * max(scale, 1.0)  # float32 storage round-off

    parameter = scalars[recipe.parameter_name]
    spec = {"constant": "value", "power": "exponent", "step": "threshold"}[recipe.diffusivity.kind]
    low, high = getattr(recipe.diffusivity, spec)
    assert np.all((parameter >= low) & (parameter <= high)) and np.ptp(parameter) > 0

    with jax.enable_x64(True):
        for i in range(2):
            pde, exact = build(recipe, jnp.asarray(parameter[i], jnp.float64))
            expected = np.asarray(pde.grid.cell_averages(exact, float(time[-1]), jnp.float64))
            error = np.mean(np.abs(u[i, -1] - expected))
            assert error < EXACT_TOLERANCE[name], (i, error)
    kinds = {"dirichlet": "OPEN", "no_flux": "WALL"}
    assert boundaries["x"] == tuple(kinds[recipe.boundaries[f"x_{s}"].kind]
                                    for s in ("low", "high"))


def test_a_trajectory_does_not_depend_on_its_batch(tmp_path):
    recipe = load_recipe("gpme-pme-tiny")
    # 2 and 3 trajectories per device (4 test devices); the generator never vmaps fewer than 2.
    small = generate(recipe.replace(chunk_size=8), tmp_path / "a", progress=False)
    large = generate(recipe.replace(chunk_size=12), tmp_path / "b", progress=False)
    a, b = read(small.files[0])[0], read(large.files[0])[0]
    np.testing.assert_array_equal(a, b)


def test_a_stalled_solve_names_the_trajectory_and_writes_nothing(tmp_path):
    recipe = apply_overrides(load_recipe("gpme-pme-tiny"), ["solver.max_steps=5"])
    with pytest.raises(SolverStalledError, match=r"stalled in train trajectory \d+ .*max_steps"):
        generate(recipe, tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.hdf5"))


@pytest.mark.parametrize("override, message", [
    ("diffusivity.exponent=[-1, 2]", "must be >= 0"),
    ("boundaries.x_low.kind=periodic", "periodic on both sides"),
    ("diffusivity.kind=constant", "solves the power diffusivity"),
    ("solution.kind=stefan", "solves the step diffusivity"),
    ("boundaries.x_high.kind=neumann", "needs a value"),
])
def test_bad_recipes_are_refused_with_the_reason(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(load_recipe("gpme-pme-tiny"), [override])


def test_cli_generates_and_inspects_a_porous_medium_dataset(tmp_path, capsys):
    # A closed far side: the two ends of x get their own boundary groups in The Well's layout.
    assert main(["generate", "gpme-stefan-tiny", "--out", str(tmp_path),
                 "--set", "splits.train=4", "--set", "splits.valid=0",
                 "--set", "splits.test=0", "--set", "boundaries.x_high.kind=no_flux"]) == 0
    assert main(["validate", str(tmp_path / "gpme-stefan-tiny")]) == 0
    assert main(["inspect", str(tmp_path / "gpme-stefan-tiny")]) == 0
    out = capsys.readouterr().out
    assert "boundary_flux_x_low" in out and "threshold" in out and "x: open/wall" in out
