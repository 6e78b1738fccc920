"""Each recipe kind's way to simulate one trajectory, lay out its file, and check its health.

:func:`neuralpde.datagen.generate` is written once over these; a new equation family adds a
recipe dataclass and one :class:`Family` here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from neuralpde.datagen import navier_stokes, porous_medium
from neuralpde.datagen.navier_stokes_recipe import NavierStokesRecipe
from neuralpde.datagen.porous_medium_recipe import PorousMediumRecipe
from neuralpde.io import FileLayout


@dataclass(frozen=True)
class Family:
    """``simulate(recipe, key) -> dict`` (unbatched, pure), ``layout(recipe, count)`` without
    provenance, and ``check_health(recipe, split, indices, arrays)`` raising on failure."""

    simulate: Callable[[Any, Any], dict]
    layout: Callable[[Any, int], FileLayout]
    check_health: Callable[[Any, str, Any, dict], None]


FAMILIES: dict[type, Family] = {
    NavierStokesRecipe: Family(navier_stokes.simulate_trajectory, navier_stokes.file_layout,
                               navier_stokes.check_health),
    PorousMediumRecipe: Family(porous_medium.simulate_trajectory, porous_medium.file_layout,
                               porous_medium.check_health),
}


def family_of(recipe) -> Family:
    try:
        return FAMILIES[type(recipe)]
    except KeyError:
        raise TypeError(f"no generator for recipe type {type(recipe).__name__}") from None
