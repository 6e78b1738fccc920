"""Vorticity forcings ``f = ∂_x F_v − ∂_y F_u`` on a periodic grid.

- ``fno_forcing``: ``f = A (sin 2π(x+y)/L + cos 2π(x+y)/L)``, with ``A = 0.1`` on the unit torus as
  in the FNO data (Li et al. 2021).
- ``kolmogorov_forcing``: velocity forcing ``F = (A sin(k y), 0)`` with ``k = 2π m / L``, hence
  ``f = −A k cos(k y)`` (Kolmogorov flow; jax-cfd and FactFormer use ``m = 4``, ``A = 1``).
"""

from __future__ import annotations

import jax.numpy as jnp

from neuralpde._typing import Field2D
from neuralpde.grid import PeriodicGrid2D


def fno_forcing(grid: PeriodicGrid2D, amplitude: float = 0.1, dtype=jnp.float32) -> Field2D:
    x, y = grid.coordinates(dtype)
    phase = 2 * jnp.pi * (x + y) / grid.length
    return amplitude * (jnp.sin(phase) + jnp.cos(phase))


def kolmogorov_forcing(
    grid: PeriodicGrid2D, wavenumber: int = 4, amplitude: float = 1.0, dtype=jnp.float32
) -> Field2D:
    _, y = grid.coordinates(dtype)
    k = 2 * jnp.pi * wavenumber / grid.length
    return -amplitude * k * jnp.cos(k * y)
