"""Gaussian random fields ``N(0, σ² (−Δ + τ² I)^{−α})`` on a periodic square."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from neuralpde._typing import Field2D, PRNGKeyArray
from neuralpde.grid import PeriodicGrid2D


def gaussian_random_field(
    key: PRNGKeyArray,
    grid: PeriodicGrid2D,
    alpha: float = 2.5,
    tau: float = 7.0,
    sigma: float | None = None,
    dtype=jnp.float32,
) -> Field2D:
    """Sample the FNO initial vorticity, ``N(0, σ²(−Δ + τ²)^{−α})`` with zero mean.

    ``−Δ`` has eigenvalues ``(2π|m|/L)²`` on the Fourier modes ``m``. The default
    ``σ = τ^{α − 1}`` (``7^{3/2}`` for ``α = 2.5``, ``τ = 7``) and the variance per mode match
    ``GaussianRF`` of the FNO repository (Li et al. 2021), including its factor 2: the field has
    covariance ``Σ_m 2σ²((2π|m|/L)² + τ²)^{−α} cos(2π m·(x − x')/L)``.

    Sampled as white noise in physical space, filtered in Fourier space, so one key gives one field.

    Args:
        key: PRNG key.
        grid: sampling grid, ``(n, n)``.
        alpha, tau, sigma: smoothness, inverse length scale, amplitude.

    Returns:
        ``(n, n)`` field.
    """
    if sigma is None:
        sigma = tau ** (alpha - 1.0)
    mx, my = grid.integer_wavenumbers()
    eigenvalue = (2 * np.pi / grid.length) ** 2 * (mx**2 + my**2)
    amplitude = grid.n * np.sqrt(2.0) * sigma * (eigenvalue + tau**2) ** (-alpha / 2)
    amplitude[0, 0] = 0.0
    noise = jax.random.normal(key, (grid.n, grid.n), dtype)
    return grid.to_physical(jnp.asarray(amplitude, dtype) * grid.to_spectral(noise))
