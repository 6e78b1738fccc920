"""An autoregressive rollout with a conservation layer applied after every predicted step.

After each step the predicted frame ``μ`` (physical units) is corrected to hold the mass budget of
the file, the current mass plus the recorded inflow over the step::

    Σ_i u_i^{j+1} |cell| = Σ_i u_i^j |cell| + F^{j+1}        (mass_balance_constraint)

``"none"`` leaves ``μ`` as it is, ``"hard"`` projects it orthogonally onto the constraint, and
``"probabilistic"`` applies ProbConserv's update with a diagonal variance: the spread of an
ensemble of models (:func:`ensemble_moments`, optionally plus each member's own variance).
The corrected mean is what every model sees at the next step (Hansen et al., ICML 2023).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp

from neuralpde._typing import Array, Float
from neuralpde.constraints.builders import mass_balance_constraint
from neuralpde.constraints.ensemble import ensemble_moments
from neuralpde.constraints.mass_budget import MassBudget
from neuralpde.constraints.probconserv import hard_projection, probconserv_update
from neuralpde.data.normalization import Normalization
from neuralpde.training.emulator import Target, advance, predict_next

Correction = Literal["none", "hard", "probabilistic"]
CORRECTIONS = ("none", "hard", "probabilistic")


class ConstrainedRollout(NamedTuple):
    """Predicted frames, physical units.

    Attributes:
        mean: ``(batch, time, *space, channel)``, after the correction.
        variance: the same shape, the diagonal variance after the update (``"probabilistic"``),
            else ``None``.
    """

    mean: Float[Array, "batch time *space channel"]
    variance: Float[Array, "batch time *space channel"] | None


def constrained_rollout(
    models,
    window: Float[Array, "batch history *space channel"],
    budget: MassBudget,
    normalization: Normalization,
    *,
    correction: Correction = "hard",
    n_steps: int | None = None,
    variance: Float[Array, "batch *space channel"] | None = None,
    sigma2: float = 0.0,
    conditioning: Array | None = None,
    target: Target = "state",
) -> ConstrainedRollout:
    """Roll ``models`` out from ``window`` under the mass budget, one ``lax.scan``.

    Args:
        models: one trained model, or a sequence (an ensemble; their mean is the prediction).
        window: the first ``h`` frames of each trajectory, physical units, one channel.
        budget: the trajectories' :class:`MassBudget` (``read_mass_budget(path)``), one row per
            window; predicted frame ``j`` is file frame ``h + j`` and gets the inflow
            ``budget.inflow[:, h + j]``.
        normalization: the training split's statistics (shared by all models).
        correction: ``"none"``, ``"hard"`` or ``"probabilistic"``.
        n_steps: frames to predict; default to the end of the file.
        variance: each member's own diagonal variance of a predicted frame (constant over the
            rollout), added to the ensemble spread; needed for ``"probabilistic"`` with one model.
        sigma2: ProbConserv's observation noise ``σ² ≥ 0`` (``0`` imposes the budget exactly).
        conditioning: raw per-trajectory parameters ``(batch, p)``, or ``None``.
        target: what the models predict (see :mod:`neuralpde.training.emulator`).

    Returns:
        :class:`ConstrainedRollout`, ``n_steps`` frames.
    """
    models = list(models) if isinstance(models, Sequence) else [models]
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; known: {list(CORRECTIONS)}")
    if window.shape[-1] != 1:
        raise ValueError(f"the mass budget constrains one channel, got window {window.shape}")
    if correction == "probabilistic" and len(models) < 2 and variance is None:
        raise ValueError("the probabilistic correction needs a variance: an ensemble of >= 2 "
                         "models, or `variance`")
    if correction != "probabilistic" and (variance is not None or sigma2 != 0):
        raise ValueError(f"variance and sigma2 apply to the probabilistic correction only, "
                         f"not {correction!r}")
    batch, history = window.shape[:2]
    n_time = budget.inflow.shape[1]
    n_steps = n_time - history if n_steps is None else n_steps
    if budget.inflow.shape[0] != batch or not 1 <= n_steps <= n_time - history:
        raise ValueError(f"budget of shape {budget.inflow.shape} does not cover {n_steps} "
                         f"steps after a window of shape {window.shape}")
    dtype = window.dtype
    inflow = jnp.asarray(budget.inflow[:, history:history + n_steps].T, dtype)
    cell_volume = jnp.asarray(budget.cell_volume, dtype)
    if conditioning is not None:
        conditioning = normalization.normalize_parameters(conditioning)
    frame_shape = window.shape[2:]
    if variance is not None:
        variance = jnp.broadcast_to(jnp.asarray(variance, dtype), (batch, *frame_shape))
        variance = jnp.broadcast_to(variance.reshape(batch, -1),
                                    (len(models), batch, variance[0].size))

    def correct(previous, mu, var, step_inflow):
        constraint = mass_balance_constraint(previous, cell_volume, step_inflow)
        if correction == "hard":
            return hard_projection(mu, constraint), var
        if correction == "probabilistic":
            return probconserv_update(mu, var, constraint, sigma2)
        return mu, var

    def step(state, step_inflow):
        normalized = normalization.normalize(state)
        members = jnp.stack([predict_next(model, normalized, conditioning, target)
                             for model in models])
        members = normalization.denormalize(members).astype(dtype).reshape(len(models), batch, -1)
        mu, var = jax.vmap(ensemble_moments, in_axes=1)(members, variance)
        mu, var = jax.vmap(correct)(state[:, -1], mu, var, step_inflow)
        frame = mu.reshape(batch, *frame_shape)
        return advance(state, frame), (frame, var.reshape(batch, *frame_shape))

    _, (frames, variances) = jax.lax.scan(step, window, inflow)
    mean = jnp.moveaxis(frames, 0, 1)
    if correction != "probabilistic":
        return ConstrainedRollout(mean, None)
    return ConstrainedRollout(mean, jnp.moveaxis(variances, 0, 1))
