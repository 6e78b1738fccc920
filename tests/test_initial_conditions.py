"""Initial-condition samplers against their stated distributions."""

import jax
import jax.numpy as jnp
import numpy as np

from neuralpde.grid import PeriodicGrid2D
from neuralpde.ic import energy_spectrum_field, gaussian_random_field, taylor_green


def test_fno_random_field_has_the_fno_covariance():
    """Per-mode variance E|ŵ_m|²/n⁴ = 2σ²((2π|m|)² + τ²)^{−α} (FNO's GaussianRF, whose
    sqrt_eig is n²·√2·σ·(4π²|m|² + τ²)^{−α/2}), and the pointwise variance is its sum."""
    grid = PeriodicGrid2D(32, 1.0)
    keys = jax.random.split(jax.random.key(0), 2048)
    fields = jax.vmap(lambda k: gaussian_random_field(k, grid, dtype=jnp.float64))(keys)
    power = np.mean(np.abs(np.fft.fft2(np.asarray(fields))) ** 2, axis=0) / grid.n**4
    m = np.fft.fftfreq(grid.n, 1 / grid.n)
    mm = m[:, None] ** 2 + m[None, :] ** 2
    sigma2, tau, alpha = 7.0**3, 7.0, 2.5
    expected = 2 * sigma2 * (4 * np.pi**2 * mm + tau**2) ** (-alpha)
    expected[0, 0] = 0.0
    low = (mm > 0) & (mm <= 9)  # the modes that carry the variance
    np.testing.assert_allclose(power[low], expected[low], rtol=0.15)
    np.testing.assert_allclose(np.var(np.asarray(fields)), expected.sum(), rtol=0.05)
    assert np.max(np.abs(np.asarray(fields).mean(axis=(1, 2)))) < 1e-12  # zero-mean fields


def test_energy_spectrum_field_has_its_energy_and_peak():
    grid = PeriodicGrid2D(64, 2 * np.pi)
    w = np.asarray(jax.vmap(lambda k: energy_spectrum_field(k, grid, 6.0, 0.7, jnp.float64))(
        jax.random.split(jax.random.key(1), 64)))
    k = np.fft.fftfreq(64, 1 / 64)
    kx, ky = np.meshgrid(k, k, indexing="ij")
    k2 = np.where(kx**2 + ky**2 > 0, kx**2 + ky**2, 1.0)
    w_hat = np.fft.fft2(w)
    u, v = (np.real(np.fft.ifft2(c * w_hat / k2)) for c in (1j * ky, -1j * kx))
    np.testing.assert_allclose(0.5 * np.mean(u**2 + v**2, axis=(1, 2)), 0.7, rtol=1e-10)
    shell = np.rint(np.sqrt(kx**2 + ky**2)).astype(int)
    energy_density = np.mean(np.abs(w_hat) ** 2, axis=0) / k2
    spectrum = np.bincount(shell.ravel(), energy_density.ravel())
    # E(k) ∝ k⁴ exp(−2(k/k₀)²) peaks at k = k₀.
    assert abs(int(np.argmax(spectrum)) - 6) <= 1


def test_taylor_green_formula():
    grid = PeriodicGrid2D(16, 2.0)
    x, y = grid.coordinates(jnp.float64)
    k = np.pi
    w = taylor_green(grid, wavenumber=1, amplitude=0.5, time=0.3, viscosity=0.1,
                     dtype=jnp.float64)
    expected = 2 * 0.5 * k * np.sin(k * x) * np.sin(k * y) * np.exp(-2 * 0.1 * k**2 * 0.3)
    np.testing.assert_allclose(w, expected, atol=1e-14)
