"""Dataset generation: recipes, one-trajectory simulation, and the sharded resumable writer."""

from neuralpde.datagen.errors import BlowUpError, GenerationError, SolverStalledError
from neuralpde.datagen.generate import GenerationReport, generate, split_file
from neuralpde.datagen.keys import trajectory_key
from neuralpde.datagen.navier_stokes import simulate_trajectory
from neuralpde.datagen.navier_stokes_recipe import NavierStokesRecipe
from neuralpde.datagen.porous_medium_recipe import PorousMediumRecipe
from neuralpde.datagen.recipes import known_recipes, load_recipe

__all__ = [
    "BlowUpError",
    "GenerationError",
    "GenerationReport",
    "NavierStokesRecipe",
    "PorousMediumRecipe",
    "SolverStalledError",
    "generate",
    "known_recipes",
    "load_recipe",
    "simulate_trajectory",
    "split_file",
    "trajectory_key",
]
