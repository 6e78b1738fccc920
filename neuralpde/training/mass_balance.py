"""The hard mass-balance constraint inside training, on every predicted frame.

Porous-medium files record their mass budget: the inflow ``F`` through the boundary over each
stored interval (:func:`~neuralpde.constraints.read_mass_budget`). With
``physics.constraint: mass_balance`` every frame the model predicts during training is projected
orthogonally onto ``Σ_i u_i^{j+1} |cell| = Σ_i u_i^j |cell| + F^{j+1}``, ``u^j`` the window's last
frame (physical units). For this single equal-weight condition the projection of
:func:`~neuralpde.constraints.hard_projection` with
:func:`~neuralpde.constraints.mass_balance_constraint` is a uniform shift::

    u' = u + (Σ u^j |cell| + F − Σ u |cell|) / (n |cell|).

Rollouts of such a run apply the same projection (``evaluation.correction`` is then ``hard``).
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from neuralpde._typing import Array, Float
from neuralpde.data.normalization import Normalization

Frame = Float[Array, "batch *space channel"]


def mass_balance_correction(batch: dict[str, Array], normalization: Normalization) -> Callable:
    """``correct(frame, window, i)`` for :func:`~neuralpde.training.objectives.objective_loss`.

    Args:
        batch: with ``inflow (batch, future)`` and ``cell_volume (batch,)`` (windows made with
            ``mass_budget=True``).
        normalization: the statistics of the (single) channel.

    Returns:
        The corrected normalised frame ``(batch, *space, 1)`` for predicted future frame ``i``.
    """
    if normalization.n_channels != 1:
        raise ValueError(f"the mass balance constrains one channel, the data has "
                         f"{list(normalization.channel_names)}")

    def correct(frame: Frame, window, i) -> Frame:
        dtype = frame.dtype
        std = jnp.asarray(normalization.std, dtype)[0]
        previous = normalization.denormalize(window[:, -1]).astype(dtype)
        predicted = normalization.denormalize(frame).astype(dtype)
        cell = batch["cell_volume"].astype(dtype)
        inflow = jnp.take(batch["inflow"], i, axis=1).astype(dtype)
        space = tuple(range(1, frame.ndim))
        n = frame[0].size
        deficit = (jnp.sum(previous, axis=space) - jnp.sum(predicted, axis=space)) * cell + inflow
        shift = deficit / (n * cell) / std
        return frame + shift.reshape(-1, *[1] * (frame.ndim - 1))

    return correct
