"""Equations as data: parameters, precomputed operators, boundary conditions, exact solutions."""

from neuralpde.pde.boundary import Dirichlet, Neumann, NoFlux, Periodic
from neuralpde.pde.diffusivity import (
    AbstractDiffusivity,
    CallableDiffusivity,
    ConstantDiffusivity,
    PowerDiffusivity,
    StepDiffusivity,
)
from neuralpde.pde.forcing import fno_forcing, kolmogorov_forcing
from neuralpde.pde.navier_stokes import NavierStokes2D
from neuralpde.pde.porous_medium import GeneralizedPorousMedium
from neuralpde.pde.porous_medium_exact import (
    Barenblatt,
    HeatMode,
    StefanSimilarity,
    TravellingFront,
    stefan_root,
)

__all__ = [
    "AbstractDiffusivity",
    "Barenblatt",
    "CallableDiffusivity",
    "ConstantDiffusivity",
    "Dirichlet",
    "GeneralizedPorousMedium",
    "HeatMode",
    "NavierStokes2D",
    "Neumann",
    "NoFlux",
    "Periodic",
    "PowerDiffusivity",
    "StefanSimilarity",
    "StepDiffusivity",
    "TravellingFront",
    "fno_forcing",
    "kolmogorov_forcing",
    "stefan_root",
]
