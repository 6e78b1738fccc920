"""Random vorticity with a prescribed isotropic energy spectrum, for decaying turbulence."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from neuralpde._typing import Field2D, PRNGKeyArray
from neuralpde.grid import PeriodicGrid2D


def energy_spectrum_field(
    key: PRNGKeyArray,
    grid: PeriodicGrid2D,
    peak_wavenumber: float = 4.0,
    energy: float = 0.5,
    dtype=jnp.float32,
) -> Field2D:
    """Random-phase vorticity whose shell energy spectrum is ``E(k) ∝ k⁴ exp(−2 (k/k₀)²)``.

    ``k`` is the integer shell ``|m|`` and ``k₀`` the peak. Each mode's amplitude is set so that
    the shell sum of ``|û|²/2`` follows ``E(k)`` (about ``πk`` modes of the half plane per
    shell), the phases are Gaussian noise, and the field is rescaled so that the domain-mean
    kinetic energy ``⟨|u|²⟩/2`` equals ``energy`` exactly.

    Args:
        key: PRNG key.
        grid: sampling grid.
        peak_wavenumber: ``k₀``, the energy-containing scale, in integer modes.
        energy: mean kinetic energy per unit area.

    Returns:
        ``(n, n)`` vorticity with zero mean.
    """
    mx, my = grid.integer_wavenumbers()
    shell = np.sqrt(mx**2 + my**2)
    spectrum = shell**4 * np.exp(-2.0 * (shell / peak_wavenumber) ** 2)
    # |ω̂|² = |k|² |û|²: a mode's vorticity amplitude from its share of the shell energy.
    k2 = (2 * np.pi / grid.length) ** 2 * shell**2
    amplitude = np.sqrt(np.where(shell > 0, k2 * spectrum / np.maximum(shell, 1.0), 0.0))
    noise = jax.random.normal(key, (grid.n, grid.n), dtype)
    w_hat = jnp.asarray(amplitude, dtype) * grid.to_spectral(noise)
    inverse_k2 = jnp.asarray(np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0), dtype)
    current = 0.5 * grid.mean_product(w_hat, w_hat * inverse_k2)
    return grid.to_physical(w_hat * jnp.sqrt(energy / current))
