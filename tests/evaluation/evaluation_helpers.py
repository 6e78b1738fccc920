"""An exactly solvable dataset for the rollout evaluation: the periodic heat equation.

Two channels on ``[0, 1)²`` diffuse with ``κ_c ν``, ``κ = (1, ½)`` and ``ν`` per trajectory:
``û_c(k, t) = û_c(k, 0) exp(−κ_c ν |2πk|² t)``. The files are written in float64 arithmetic and
stored as float32; :func:`exact_heat_model` is the exact one-step map as an emulator.
"""

import jax.numpy as jnp
import numpy as np

from neuralpde.data.normalization import Normalization
from neuralpde.io import FileLayout, TrajectoryFileWriter

CHANNELS = ("temperature", "tracer")
KAPPA = np.array([1.0, 0.5])
DT = 0.05
MEANS = np.array([1.0, -0.5])


def _decay(space: tuple[int, ...], nu, t, xp=np):
    """``exp(−κ_c ν |2πk|² t)`` on the ``rfft2`` modes, ``(batch, kx, ky, channel)``."""
    kx = xp.fft.fftfreq(space[0], 1.0 / space[0])
    ky = xp.fft.rfftfreq(space[1], 1.0 / space[1])
    k2 = (2 * np.pi) ** 2 * (kx[:, None] ** 2 + ky[None, :] ** 2)
    rate = xp.asarray(nu)[:, None, None, None] * xp.asarray(KAPPA)[None, None, None, :]
    return xp.exp(-rate * k2[None, :, :, None] * t)


def heat_trajectories(n: int, n_time: int, resolution: int, seed: int = 0):
    """Fields ``(n, n_time, r, r, 2)`` (float64) and diffusivities ``(n,)``; modes ``|k| ≤ 4``."""
    rng = np.random.default_rng(seed)
    space = (resolution, resolution)
    nu = rng.uniform(2e-3, 1e-2, size=n)
    # A coarse random spectrum placed into the grid's modes: the same field at every resolution.
    spectrum = np.zeros((n, resolution, resolution // 2 + 1, 2), complex)
    coarse = rng.normal(size=(n, 9, 5, 2)) + 1j * rng.normal(size=(n, 9, 5, 2))
    spectrum[:, :5, :5] = coarse[:, :5]
    spectrum[:, -4:, :5] = coarse[:, 5:]
    spectrum[:, 0, 0] = 0.0
    scale = resolution**2 / 8
    frames = [
        np.fft.irfft2(scale * spectrum * _decay(space, nu, DT * j), s=space, axes=(1, 2))
        for j in range(n_time)
    ]
    return np.stack(frames, axis=1) + MEANS, nu


def write_heat_file(path, n: int = 5, n_time: int = 8, resolution: int = 16, seed: int = 0):
    """A trajectory file of :func:`heat_trajectories`; returns the float32 fields and ``ν``."""
    fields, nu = heat_trajectories(n, n_time, resolution, seed)
    grid = np.arange(resolution) / resolution
    layout = FileLayout(
        dataset_name="heat",
        n_trajectories=n,
        time=DT * np.arange(n_time),
        coordinates={"x": grid, "y": grid},
        boundary_types={"x": "PERIODIC", "y": "PERIODIC"},
        fields={name: 0 for name in CHANNELS},
        sample_scalars=("diffusivity",),
        provenance={"config": "heat", "seed": seed, "split": "test", "package_version": "0",
                    "git_revision": "test"},
    )
    with TrajectoryFileWriter(path, layout) as writer:
        writer.write(0, {"temperature": fields[..., 0], "tracer": fields[..., 1],
                         "diffusivity": nu, "trajectory_index": np.arange(n)})
    return fields.astype(np.float32), nu.astype(np.float32)


def heat_normalization(parameters=("diffusivity",)) -> Normalization:
    """Non-trivial channel statistics; parameters pass through unchanged (μ = 0, σ = 1)."""
    p = len(parameters)
    return Normalization(np.float32(MEANS + 0.1), np.array([0.7, 1.3], np.float32),
                         np.zeros(p, np.float32), np.ones(p, np.float32), CHANNELS,
                         tuple(parameters))


def exact_heat_model(u, conditioning):
    """The exact step ``DT`` of the last frame of ``u`` ``(batch, x, y, h · 2)``; ν is conditioning.

    Exact in normalised units too: the step keeps constants, so it commutes with ``(u − μ) / σ``.
    """
    last = u[..., -len(CHANNELS):]
    decay = _decay(u.shape[1:3], conditioning[:, 0], DT, xp=jnp)
    spectrum = jnp.fft.rfft2(last, axes=(1, 2)) * decay.astype(jnp.complex64)
    return jnp.fft.irfft2(spectrum, s=u.shape[1:3], axes=(1, 2)).astype(u.dtype)
