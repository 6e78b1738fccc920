"""Periodic grids: coordinates, real-FFT wavenumbers, dealiasing, Parseval means and truncation.

A ``PeriodicGrid2D`` covers ``[0, L)²`` with ``n × n`` points ``x_i = i L / n`` (``indexing="ij"``,
so axis 0 is ``x``). Spectra are real FFTs over the last two axes, shape ``(n, n // 2 + 1)``,
with FFTW/NumPy normalisation (forward unscaled, inverse scaled by ``1 / n²``).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from neuralpde._typing import Array, Complex, Field2D, Float, RealSpectrum2D, Spectrum2D


class PeriodicGrid2D(eqx.Module):
    """A uniform periodic grid on ``[0, L)²`` with ``n`` points per side.

    Attributes:
        n: points per side (even).
        length: side ``L`` of the periodic square.
    """

    n: int = eqx.field(static=True)
    length: float = eqx.field(static=True)

    def __check_init__(self):
        if self.n < 4 or self.n % 2:
            raise ValueError(f"grid size must be even and at least 4, got n={self.n}")
        if not self.length > 0:
            raise ValueError(f"domain length must be positive, got L={self.length}")

    @property
    def dx(self) -> float:
        return self.length / self.n

    @property
    def spectral_shape(self) -> tuple[int, int]:
        return (self.n, self.n // 2 + 1)

    def coordinates(self, dtype=jnp.float32) -> tuple[Field2D, Field2D]:
        """Meshgrid ``(x, y)``, each ``(n, n)``, ``x`` varying along axis 0."""
        x = jnp.arange(self.n, dtype=dtype) * (self.length / self.n)
        return tuple(jnp.meshgrid(x, x, indexing="ij"))

    def integer_wavenumbers(self) -> tuple[np.ndarray, np.ndarray]:
        """Integer mode numbers ``(mx, my)`` broadcastable to the spectral shape."""
        mx = np.fft.fftfreq(self.n, 1.0 / self.n)[:, None]
        my = np.fft.rfftfreq(self.n, 1.0 / self.n)[None, :]
        return mx, my

    def wavenumbers(self, dtype=jnp.float32) -> tuple[Float[Array, "kx 1"], Float[Array, "1 ky"]]:
        """Angular wavenumbers ``k = 2π m / L`` for derivatives, Nyquist mode set to zero.

        Zeroing the Nyquist mode makes odd derivatives of real fields real, as they must be.
        """
        mx, my = self.integer_wavenumbers()
        mx = np.where(np.abs(mx) == self.n // 2, 0.0, mx)
        my = np.where(np.abs(my) == self.n // 2, 0.0, my)
        scale = 2 * np.pi / self.length
        return jnp.asarray(scale * mx, dtype), jnp.asarray(scale * my, dtype)

    def laplacian_symbol(self, dtype=jnp.float32) -> RealSpectrum2D:
        """``|k|²`` (the symbol of ``−Δ``), keeping the Nyquist modes."""
        mx, my = self.integer_wavenumbers()
        scale = 2 * np.pi / self.length
        return jnp.asarray(scale**2 * (mx**2 + my**2), dtype)

    def dealias_mask(self, dtype=jnp.float32) -> RealSpectrum2D:
        """Orszag's 2/3 rule: keep modes with ``|m_x| < n/3`` and ``|m_y| < n/3``.

        Quadratic products of the kept modes then alias only onto discarded modes.
        """
        mx, my = self.integer_wavenumbers()
        keep = (np.abs(mx) < self.n / 3) & (np.abs(my) < self.n / 3)
        return jnp.asarray(keep, dtype)

    def to_spectral(self, field: Float[Array, "*batch x y"]) -> Complex[Array, "*batch kx ky"]:
        return jnp.fft.rfft2(field)

    def to_physical(self, spectrum: Complex[Array, "*batch kx ky"]) -> Float[Array, "*batch x y"]:
        return jnp.fft.irfft2(spectrum, s=(self.n, self.n))

    def mean_product(self, a_hat: Spectrum2D, b_hat: Spectrum2D) -> Float[Array, ""]:
        """Domain mean ``⟨a b⟩`` of two real fields from their real-FFT spectra (Parseval).

        The half spectrum stores each mode ``0 < m_y < n/2`` once for two conjugate modes.
        """
        weight = np.full(self.spectral_shape, 2.0)
        weight[:, 0] = 1.0
        weight[:, -1] = 1.0
        weight = jnp.asarray(weight / self.n**4, jnp.real(a_hat).dtype)
        return jnp.sum(weight * jnp.real(a_hat * jnp.conj(b_hat)))

    def truncate(self, spectrum: Complex[Array, "*batch kx ky"], n_out: int) -> Complex[
        Array, "*batch kx_out ky_out"
    ]:
        """Project onto the modes of an ``n_out`` grid, rescaled so that ``irfft2`` gives values.

        Modes of the coarse grid's Nyquist row and column are dropped, so that the result is the
        exact L² projection of the field onto the trigonometric polynomials resolvable there.
        """
        if n_out > self.n or n_out % 2:
            raise ValueError(
                f"storage grid {n_out}² must be even and no finer than the solve grid {self.n}²"
            )
        half = n_out // 2
        low = spectrum[..., : half, : half + 1]
        high = spectrum[..., self.n - half :, : half + 1]
        out = jnp.concatenate([low, high], axis=-2) * (n_out / self.n) ** 2
        return out.at[..., half, :].set(0).at[..., :, half].set(0)
