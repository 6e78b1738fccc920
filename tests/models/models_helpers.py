"""Naive oracles and band-limited fields shared by the model tests (NumPy, float64)."""

import itertools
import math

import numpy as np


def naive_spectral_conv(x: np.ndarray, weight: np.ndarray, modes: tuple[int, ...]) -> np.ndarray:
    """Spectral convolution by explicit loops over modes and channels, with direct DFT sums.

    ``x`` is ``(batch, *space, in)``, ``weight`` is ``(*kept, in, out)`` complex with the kept
    modes ordered ``0 … m−1, −m … −1`` on every axis but the last (``0 … m−1``). The inverse is
    the real part of the Hermitian extension along the last axis: modes ``k_last > 0`` count
    twice, as in ``irfftn``.
    """
    batch, *space, n_in = x.shape
    n_out = weight.shape[-1]
    coords = np.meshgrid(*(np.arange(n) for n in space), indexing="ij")
    per_axis = [[*range(m), *range(-m, 0)] for m in modes[:-1]] + [list(range(modes[-1]))]
    out = np.zeros((batch, *space, n_out))
    for index in itertools.product(*(range(len(ks)) for ks in per_axis)):
        k = [per_axis[axis][j] for axis, j in enumerate(index)]
        wave = np.exp(2j * np.pi * sum(k[a] * coords[a] / space[a] for a in range(len(space))))
        multiplicity = 1 if k[-1] == 0 else 2
        for b in range(batch):
            for o in range(n_out):
                coefficient = 0j
                for i in range(n_in):
                    coefficient += weight[(*index, i, o)] * np.sum(x[b, ..., i] * np.conj(wave))
                out[b, ..., o] += multiplicity * np.real(coefficient * wave)
    return out / math.prod(space)


def band_limited(
    rng: np.random.Generator, batch: int, space: tuple[int, ...], channels: int, kmax: int
) -> np.ndarray:
    """Random real fields ``(batch, *space, channels)`` with modes ``|k| ≤ kmax`` on every axis."""
    d = len(space)
    shape = (*space[:-1], space[-1] // 2 + 1)
    freqs = [np.fft.fftfreq(n, 1 / n) for n in space[:-1]]
    freqs.append(np.fft.rfftfreq(space[-1], 1 / space[-1]))
    grids = np.meshgrid(*freqs, indexing="ij")
    mask = np.all([np.abs(g) <= kmax for g in grids], axis=0)
    size = (batch, *shape, channels)
    spectrum = rng.normal(size=size) + 1j * rng.normal(size=size)
    spectrum *= mask[None, ..., None]
    u = np.fft.irfftn(spectrum, s=space, axes=tuple(range(1, d + 1)))
    return u / np.sqrt(np.mean(u**2))


def spectral_interpolate(u: np.ndarray, space: tuple[int, ...]) -> np.ndarray:
    """Trigonometric interpolation of ``(batch, *old, channel)`` onto a finer ``space``.

    Exact for fields with no energy at the coarse Nyquist modes.
    """
    old = u.shape[1:-1]
    d = len(old)
    axes = tuple(range(1, d + 1))
    spectrum = np.fft.rfftn(u, axes=axes)
    fine = np.zeros((u.shape[0], *space[:-1], space[-1] // 2 + 1, u.shape[-1]), complex)
    for corner in itertools.product(*([(True, False)] * (d - 1))):
        src, dst = [slice(None)], [slice(None)]
        for axis, low in enumerate(corner):
            half = old[axis] // 2
            src.append(slice(0, half) if low else slice(old[axis] - half, old[axis]))
            dst.append(slice(0, half) if low else slice(space[axis] - half, space[axis]))
        src.append(slice(0, old[-1] // 2 + 1))
        dst.append(slice(0, old[-1] // 2 + 1))
        fine[tuple(dst)] = spectrum[tuple(src)]
    return np.fft.irfftn(fine, s=space, axes=axes) * (math.prod(space) / math.prod(old))
