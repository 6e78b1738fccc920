"""Equations as data: parameters, precomputed operators, and their linear/nonlinear split."""

from neuralpde.pde.forcing import fno_forcing, kolmogorov_forcing
from neuralpde.pde.navier_stokes import NavierStokes2D

__all__ = ["NavierStokes2D", "fno_forcing", "kolmogorov_forcing"]
