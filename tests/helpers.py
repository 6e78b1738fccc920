"""Small recipes and files shared by the tests."""

from xla_flags import host_device_flags  # noqa: F401  (re-exported for the tests)

from neuralpde.datagen.navier_stokes_recipe import NavierStokesRecipe, Splits


def tiny_recipe(**changes) -> NavierStokesRecipe:
    """A recipe that generates in about a second: 32² solve, 16² store, 11 frames."""
    recipe = NavierStokesRecipe(
        name="tiny",
        solve_resolution=32,
        store_resolution=16,
        viscosity=(1e-3, 1e-2),
        dt=0.02,
        t_end=1.0,
        store_interval=0.1,
        splits=Splits(train=6, valid=2, test=2),
        chunk_size=4,
        store_velocity=True,
    )
    return recipe.replace(**changes)
