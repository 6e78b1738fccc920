"""Shell-binned energy spectra of periodic fields, and the log-spectrum error of a rollout.

Fields are trajectories ``(batch, time, *space, channel)`` on a periodic box with the same period
in every direction (any number of points per side). Mode ``m = (m_1, ..., m_d)`` (integer mode
numbers, wavenumber ``2π m / L``) falls in shell ``k = round(|m|)``, half-integers rounded up.
"""

import math

import jax.numpy as jnp
import numpy as np

from neuralpde._typing import Array, Float
from neuralpde.evaluation.metrics import Trajectory, _space_axes


def _shells_and_weights(space_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """Shell index and Hermitian weight of every mode of ``rfftn``, flattened, and the shell count.

    The real FFT keeps ``m_d ≥ 0`` only; modes ``0 < m_d < n_d / 2`` stand for two conjugate modes.
    """
    *leading, last = space_shape
    freqs = [np.fft.fftfreq(n, 1.0 / n) for n in leading] + [np.fft.rfftfreq(last, 1.0 / last)]
    modes = np.meshgrid(*freqs, indexing="ij")
    shells = np.floor(np.sqrt(sum(m**2 for m in modes)) + 0.5).astype(np.int32)
    weights = np.where((modes[-1] > 0) & (2 * modes[-1] != last), 2.0, 1.0)
    return shells.ravel(), weights.ravel(), int(shells.max()) + 1


def energy_spectrum(u: Trajectory) -> Float[Array, "batch time shell"]:
    """Isotropic energy spectrum of each step, binned over integer shells ``k = 0, 1, ...``.

    ``E[b, t, k] = ½ Σ_{m in shell k} Σ_c |û_c(m)|² / N²`` with ``û = fftn(u)`` (unscaled) over
    the ``N`` grid points. By Parseval ``Σ_k E[k] = ½ ⟨Σ_c u_c²⟩``, the energy of
    :func:`neuralpde.evaluation.metrics.energy`, so ``E[k]`` is the energy per unit volume
    carried by shell ``k`` (divide by ``2π / L`` for a density in wavenumber). In 1D the shell is
    the mode, ``E[k] = Σ_c |û_c(k)|² / N²`` for ``0 < k < N / 2``, and ``A cos(2π k x / L)`` gives
    ``E[k] = A² / 4``. All shells up to the grid's corner are returned, so the sum is exact; only
    ``k < min(n) / 2`` are complete shells.
    """
    axes = _space_axes(u)
    space_shape = u.shape[2:-1]
    shells, weights, n_shells = _shells_and_weights(space_shape)
    n_points = math.prod(space_shape)
    power = jnp.sum(jnp.square(jnp.abs(jnp.fft.rfftn(u, axes=axes))), axis=-1)
    power = power.reshape(*u.shape[:2], -1) * jnp.asarray(0.5 * weights / n_points**2, u.dtype)
    return jnp.zeros((*u.shape[:2], n_shells), power.dtype).at[..., shells].add(power)


def energy_spectrum_error(
    pred: Trajectory, true: Trajectory, floor: float = 1e-10
) -> Float[Array, "batch time"]:
    """Mean absolute log-ratio of the predicted and true energy spectra, over resolved shells.

    ``e[b, t] = mean_{k ∈ K} |log E_p[k] − log E_u[k]|`` over the complete shells
    ``1 ≤ k < min(n) / 2`` (mean and Nyquist shells left out) where the truth holds energy,
    ``K = {k : E_u[k] > floor · Σ_k E_u[k]}``; the relative ``floor`` drops shells that only
    round-off fills. ``e = 0`` for equal spectra, ``2 |log(1 + a)|`` for ``p = (1 + a) u``, ``inf``
    if the prediction leaves a shell of ``K`` empty, and ``0`` if ``K`` is empty. This is the
    summand of jax-cfd's ``energy_spectrum_metric`` (Kochkov et al. 2021, "Machine
    learning-accelerated computational fluid dynamics", ``jax_cfd/data/evaluation.py``), averaged
    over shells instead of summed, so that resolutions compare.
    """
    _space_axes(pred, true)
    k_max = min(pred.shape[2:-1]) // 2 - 1
    if k_max < 1:
        raise ValueError(f"need at least 4 points per side for a resolved shell, got {pred.shape}")
    spectrum_true = energy_spectrum(true)
    e_true = spectrum_true[..., 1 : k_max + 1]
    e_pred = energy_spectrum(pred)[..., 1 : k_max + 1]
    kept = e_true > floor * jnp.sum(spectrum_true, axis=-1, keepdims=True)
    misfit = jnp.where(kept, jnp.abs(jnp.log(e_pred) - jnp.log(e_true)), 0.0)
    return jnp.sum(misfit, axis=-1) / jnp.maximum(jnp.sum(kept, axis=-1), 1)
