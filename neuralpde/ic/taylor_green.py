"""The Taylor–Green vortex, an exact decaying solution."""

from __future__ import annotations

import jax.numpy as jnp

from neuralpde._typing import Field2D
from neuralpde.grid import PeriodicGrid2D


def taylor_green(
    grid: PeriodicGrid2D,
    wavenumber: int = 1,
    amplitude: float = 1.0,
    time: float = 0.0,
    viscosity: float = 0.0,
    dtype=jnp.float32,
) -> Field2D:
    """``ω = 2 A k sin(kx) sin(ky) e^{−2νk²t}`` with ``k = 2π m / L``.

    Stream function ``ψ = (A/k) sin(kx) sin(ky) e^{−2νk²t}``, so ``u·∇ω = 0`` and the vortex
    decays at the viscous rate. With ``L = 2π``, ``m = 1`` and ``A = 1`` this is
    ``ω = 2 sin x sin y e^{−2νt}``.
    """
    x, y = grid.coordinates(dtype)
    k = 2 * jnp.pi * wavenumber / grid.length
    decay = jnp.exp(-2.0 * viscosity * k**2 * time)
    return (2 * amplitude * k * decay) * jnp.sin(k * x) * jnp.sin(k * y)
