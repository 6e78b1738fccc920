"""Training losses on channels-last fields ``(batch, *space, channel)``, averaged over the batch.

    mse:          mean over points and channels of (û − u)²
    relative_l2:  ‖û − u‖₂ / ‖u‖₂ per sample (norm over points and channels)
    h_minus_1:    Σ_k |ê_k|² / (1 + |k|²) / N  per channel, averaged over channels; ``ê`` is the
                  DFT of the error over the space axes, ``k`` integer wavenumbers and ``N`` the
                  number of points, so that a constant error scores as the MSE does. The
                  negative Sobolev norm weighs large scales over small ones (Cao et al. 2024,
                  "Spectral-Refiner"), for periodic data.
    gaussian_nll: mean of ½ (log 2π v + (û − u)²/v) for a variance head, whose prediction is a
                  :class:`~neuralpde.training.gaussian_head.GaussianFrame` (``physics.variance``)
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from neuralpde._typing import Array, Float
from neuralpde.training.gaussian_head import gaussian_nll

Field = Float[Array, "batch *space channel"]
Loss = Callable[[Field, Field], Float[Array, ""]]


def _space_axes(pred: Field, true: Field) -> tuple[int, ...]:
    if pred.shape != true.shape or pred.ndim < 3:
        raise ValueError(
            f"a loss needs prediction and truth of one shape (batch, *space, channel), "
            f"got {pred.shape} and {true.shape}"
        )
    return tuple(range(1, pred.ndim - 1))


def mse(pred: Field, true: Field) -> Float[Array, ""]:
    _space_axes(pred, true)
    return jnp.mean(jnp.square(pred - true))


def relative_l2(pred: Field, true: Field) -> Float[Array, ""]:
    axes = (*_space_axes(pred, true), pred.ndim - 1)
    error = jnp.sqrt(jnp.sum(jnp.square(pred - true), axis=axes))
    return jnp.mean(error / jnp.sqrt(jnp.sum(jnp.square(true), axis=axes)))


def sobolev_weights(space: tuple[int, ...], order: float) -> Array:
    """``(1 + |k|²)^order`` on the ``rfftn`` grid of ``space`` (integer wavenumbers)."""
    freqs = [jnp.fft.fftfreq(n, 1.0 / n) for n in space[:-1]]
    freqs.append(jnp.fft.rfftfreq(space[-1], 1.0 / space[-1]))
    k2 = sum(jnp.square(k) for k in jnp.meshgrid(*freqs, indexing="ij"))
    return (1.0 + k2) ** order


def h_minus_1(pred: Field, true: Field) -> Float[Array, ""]:
    axes = _space_axes(pred, true)
    space = pred.shape[1:-1]
    error_hat = jnp.fft.rfftn(pred - true, axes=axes)
    power = jnp.square(jnp.abs(error_hat))
    # The half spectrum holds the conjugate-symmetric modes once: count them twice.
    last = space[-1]
    multiplicity = jnp.full(last // 2 + 1, 2.0).at[0].set(1.0)
    if last % 2 == 0:
        multiplicity = multiplicity.at[-1].set(1.0)
    weights = sobolev_weights(space, -1.0) * multiplicity
    n_points = float(jnp.prod(jnp.asarray(space)))
    per_channel = jnp.sum(power * weights[None, ..., None], axis=axes) / n_points**2
    return jnp.mean(per_channel)


LOSSES: dict[str, Loss] = {"mse": mse, "relative_l2": relative_l2, "h_minus_1": h_minus_1,
                           "gaussian_nll": gaussian_nll}
"""``name -> loss``; the config's ``loss`` field picks one."""
