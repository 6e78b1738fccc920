"""Find and load dataset recipes: a name in ``datasets/`` or a path to a YAML file."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from neuralpde.config import ConfigError, from_dict
from neuralpde.datagen.navier_stokes_recipe import NavierStokesRecipe
from neuralpde.datagen.porous_medium_recipe import PorousMediumRecipe

RECIPE_TYPES = {"navier_stokes_2d": NavierStokesRecipe, "porous_medium": PorousMediumRecipe}


def recipes_directory() -> Path:
    """``$NEURALPDE_DATASETS``, else the ``datasets/`` folder of the source checkout."""
    if "NEURALPDE_DATASETS" in os.environ:
        return Path(os.environ["NEURALPDE_DATASETS"])
    return Path(__file__).resolve().parents[2] / "datasets"


def known_recipes() -> list[str]:
    directory = recipes_directory()
    return sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []


def load_recipe(name_or_path: str | Path):
    """Load a recipe by name (``ns2d-tiny``) or by path (``my/recipe.yaml``)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = recipes_directory() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"unknown recipe {str(name_or_path)!r}; known recipes: {known_recipes()} "
                f"(in {recipes_directory()}), or pass a path to a .yaml file"
            )
    elif not path.is_file():
        raise ConfigError(f"recipe file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping")
    kind = data.get("kind", "navier_stokes_2d")
    if kind not in RECIPE_TYPES:
        raise ConfigError(f"{path}: unknown recipe kind {kind!r}; known: {sorted(RECIPE_TYPES)}")
    return from_dict(RECIPE_TYPES[kind], data, where=str(path))
