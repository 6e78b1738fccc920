"""Dataset generation: recipes, one-trajectory simulation, and the sharded resumable writer."""

from neuralpde.datagen.generate import (
    BlowUpError,
    GenerationError,
    GenerationReport,
    generate,
    split_file,
)
from neuralpde.datagen.navier_stokes import simulate_trajectory, trajectory_key
from neuralpde.datagen.navier_stokes_recipe import NavierStokesRecipe
from neuralpde.datagen.recipes import known_recipes, load_recipe

__all__ = [
    "BlowUpError",
    "GenerationError",
    "GenerationReport",
    "NavierStokesRecipe",
    "generate",
    "known_recipes",
    "load_recipe",
    "simulate_trajectory",
    "split_file",
    "trajectory_key",
]
