"""The mass budget stored in a porous-medium trajectory file."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from neuralpde.io.reader import TrajectoryFile

FLUX_PREFIX = "boundary_flux_"


class MassBudget(NamedTuple):
    """Stored mass and inflow of every trajectory, ``mass[:, j+1] = mass[:, j] + inflow[:, j+1]``.

    Attributes:
        cell_volume: ``|cell|``.
        mass: ``(n_traj, n_time)``, ``Σ_i u_i |cell|`` at each stored time.
        inflow: ``(n_traj, n_time)``, inflow through all sides over the interval ending at each
            stored time (0 at index 0).
    """

    cell_volume: float
    mass: np.ndarray
    inflow: np.ndarray


def read_mass_budget(path: str | Path) -> MassBudget:
    """Read ``scalars/cell_volume``, ``scalars/mass`` and the sum of ``scalars/boundary_flux_*``.

    Raises:
        KeyError: the file has no mass (not a porous-medium file) or no boundary flux.
    """
    with TrajectoryFile(path) as file:
        sides = [name for name in file.scalar_names if name.startswith(FLUX_PREFIX)]
        if not sides:
            raise KeyError(f"{path}: no {FLUX_PREFIX}<side> scalars; scalars: {file.scalar_names}")
        inflow = sum(np.asarray(file.scalar(name), np.float64) for name in sides)
        return MassBudget(
            cell_volume=float(file.scalar("cell_volume")),
            mass=np.asarray(file.scalar("mass"), np.float64),
            inflow=inflow,
        )
