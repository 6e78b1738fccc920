"""``physics.variance: head``: a model that predicts a Gaussian per cell, conditioned on the
conservation law inside training and rollouts (ProbConserv in the loop).

The model's output has ``2c`` channels: the first ``c`` the mean (of the state, or of the
increment with ``target: difference``), the last ``c`` a raw ``s`` whose variance is
``v = softplus(s) + v_min``, all in the model's normalised units. A conservation law of
channel ``j`` is one linear condition on the predicted frame's ``n`` cells, which in normalised
units (``u = σ_j û + m_j``) reads ``Σ_i û_{i,j} = β``:

    zero_mean:     β = −n m_j/σ_j                                   (mean vorticity 0)
    mass_balance:  β = (Σ_i u_i^prev + F/|cell| − n m)/σ           (one channel)

with ``u^prev`` the window's last frame and ``F`` the recorded inflow over the step
(:mod:`neuralpde.training.mass_balance`). ProbConserv's update (Hansen et al., ICML 2023) with
``G = 1ᵀ``, the diagonal ``Σ = diag(v)`` and observation noise ``σ²`` (``physics.sigma2``, in
the same normalised units as ``Σ_i û_i``) is

    μ' = μ − v (Σ_i μ_i − β) / (Σ_i v_i + σ²),     v' = v − v² / (Σ_i v_i + σ²),

:func:`~neuralpde.constraints.probconserv_update` for this ``G``, the diagonal of ``Σ'`` kept.
With ``σ² = 0`` the mean holds the law exactly; with ``v ≡ 1`` it is the hard projection. The
objective's loss is the Gaussian negative log-likelihood of the truth under
``N(μ', diag v')`` (other channels ``N(μ, diag v)``), and every rollout (training's
multi-step objectives, validation, evaluation) continues from ``μ'``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp

from neuralpde._typing import Array, Float
from neuralpde.data.normalization import Normalization
from neuralpde.training.emulator import Target, advance, fold_time

VARIANCE_FLOOR = 1e-6
"""``v_min``: keeps the likelihood finite where the head would predict certainty."""

Law = Literal["none", "zero_mean", "mass_balance"]
Frame = Float[Array, "batch *space channel"]


class GaussianFrame(NamedTuple):
    """A predicted frame as a diagonal Gaussian, normalised units, ``(batch, *space, c)`` each."""

    mean: Frame
    variance: Frame


def predict_gaussian(model, window, conditioning, target: Target) -> GaussianFrame:
    """The model's Gaussian for the next frame, before any law (see the module docstring)."""
    out = model(fold_time(window), conditioning)
    c = window.shape[-1]
    if out.shape[-1] != 2 * c:
        raise ValueError(f"a variance head predicts 2 × {c} channels (mean and variance), the "
                         f"model gives {out.shape[-1]}")
    mean = out[..., :c] if target == "state" else window[:, -1] + out[..., :c]
    return GaussianFrame(mean, jax.nn.softplus(out[..., c:]) + VARIANCE_FLOOR)


def condition_on_sum(frame: GaussianFrame, beta: Float[Array, " batch"], channel: int,
                     sigma2: float) -> GaussianFrame:
    """ProbConserv's update of ``channel`` on ``Σ_i û_i = β`` per sample (module docstring)."""
    mean, variance = frame.mean[..., channel], frame.variance[..., channel]
    space = tuple(range(1, mean.ndim))
    shape = (-1, *[1] * len(space))
    total = jnp.sum(variance, axis=space) + sigma2
    defect = jnp.sum(mean, axis=space) - beta.astype(mean.dtype)
    new_mean = mean - variance * (defect / total).reshape(shape)
    new_variance = variance - jnp.square(variance) / total.reshape(shape)
    return GaussianFrame(frame.mean.at[..., channel].set(new_mean),
                         frame.variance.at[..., channel].set(new_variance))


def law_target(law: Law, normalization: Normalization, channel: int,
               batch: dict[str, Array]) -> Callable | None:
    """``beta(window, i) (batch,)`` for predicted frame ``i`` after normalised ``window``;
    ``None`` for no law. ``mass_balance`` reads ``inflow (batch, future)`` and
    ``cell_volume (batch,)`` from ``batch``."""
    if law == "none":
        return None
    std = jnp.asarray(normalization.std)[channel]
    mean = jnp.asarray(normalization.mean)[channel]

    def beta(window, i):
        last = window[:, -1, ..., channel]
        n = last[0].size
        if law == "zero_mean":
            return jnp.full(last.shape[:1], -n * mean / std, window.dtype)
        space = tuple(range(1, last.ndim))
        previous = jnp.sum(last * std + mean, axis=space)
        inflow = jnp.take(batch["inflow"], i, axis=1) / batch["cell_volume"]
        return ((previous + inflow - n * mean) / std).astype(window.dtype)

    return beta


def gaussian_predictor(model, conditioning, target: Target, beta: Callable | None,
                       channel: int, sigma2: float) -> Callable:
    """``predict(window, i) -> GaussianFrame``: the model's Gaussian conditioned on the law."""

    def predict(window, i):
        frame = predict_gaussian(model, window, conditioning, target)
        return frame if beta is None else condition_on_sum(frame, beta(window, i), channel,
                                                           sigma2)

    return predict


def gaussian_nll(frame: GaussianFrame, truth: Frame) -> Float[Array, ""]:
    """``mean of ½ (log 2π v + (u − μ)²/v)`` over batch, cells and channels."""
    if frame.mean.shape != truth.shape:
        raise ValueError(f"prediction {frame.mean.shape} and truth {truth.shape} differ")
    return 0.5 * jnp.mean(jnp.log(2 * jnp.pi * frame.variance)
                          + jnp.square(truth - frame.mean) / frame.variance)


def rollout_gaussian(predict: Callable, window, n_steps: int) -> GaussianFrame:
    """``n_steps`` predicted Gaussians after normalised ``window``, each fed back by its mean;
    ``(batch, n_steps, *space, c)`` each."""

    def step(state, i):
        frame = predict(state, i)
        return advance(state, frame.mean), frame

    _, frames = jax.lax.scan(step, window, jnp.arange(n_steps))
    return GaussianFrame(*(jnp.moveaxis(a, 0, 1) for a in frames))
