"""Discrete PDE residuals between a frame and the next, and their weighted penalty for training.

A residual ``r(u₀, u₁, *args)`` measures how far a predicted next frame ``u₁``, ``Δt`` after the
input ``u₀``, is from satisfying one step of a time discretisation of the PDE; it vanishes to the
scheme's accuracy on exact solutions. The soft (PINN) penalty of a training objective is

    P = λ · (1/B) Σ_b mean_x r(u₀_b, u₁_b)²,

added to the data loss (Raissi, Perdikaris, Karniadakis 2019, "Physics-informed neural networks",
here discretised in time and space on the model's grid).
"""

from __future__ import annotations

import abc
import functools
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from neuralpde._typing import Array, Float

BatchedField = Float[Array, "batch *space"]


class AbstractResidual(eqx.Module):
    """``r(u₀, u₁, *args)``, shaped like ``u₀``, of a one-step scheme of order ``order`` in ``Δt``.

    Unbatched: ``vmap`` outside (or use :func:`residual_penalty`). ``r`` has the units of
    ``∂u/∂t``.
    """

    order: ClassVar[int]
    dt: eqx.AbstractVar[Float[Array, ""]]

    def __check_init__(self):
        if not isinstance(self.dt, jax.core.Tracer) and not np.all(np.asarray(self.dt) > 0):
            raise ValueError(f"the residual's time step must be > 0, got dt={self.dt}")

    @abc.abstractmethod
    def __call__(self, u0: Float[Array, "*space"], u1: Float[Array, "*space"], *args) -> Float[
        Array, "*space"
    ]:
        raise NotImplementedError


def residual_loss(
    residual: AbstractResidual, u0: Float[Array, "*space"], u1: Float[Array, "*space"], *args
) -> Float[Array, ""]:
    """``mean_x r(u₀, u₁, *args)²`` for one sample."""
    return jnp.mean(jnp.square(residual(u0, u1, *args)))


def residual_penalty(
    residual: AbstractResidual,
    inputs: BatchedField,
    predictions: BatchedField,
    weight: float | Float[Array, ""],
    *args: Array,
) -> Float[Array, ""]:
    """``λ · (1/B) Σ_b mean_x r(u₀_b, u₁_b, *args_b)²``, the weighted soft-constraint term.

    Args:
        residual: the discrete residual, e.g. ``NavierStokesResidual(pde, dt)``.
        inputs: the frames ``u₀``, ``(batch, *space)``, in the PDE's units (de-normalised).
        predictions: the model's next frames ``u₁``, ``(batch, *space)``.
        weight: ``λ ≥ 0`` (checked when concrete).
        *args: per-sample extra arguments of ``residual``, batched on axis 0 (e.g. the input
            times ``t₀ (batch,)`` of a porous-medium residual).

    Returns:
        The scalar penalty, differentiable in ``predictions`` (and ``inputs``).

    Raises:
        ValueError: ``inputs`` and ``predictions`` differ in shape, or a concrete ``λ < 0``.
    """
    if inputs.shape != predictions.shape:
        raise ValueError(f"inputs and predictions must have one shape (batch, *space), got "
                         f"{inputs.shape} and {predictions.shape}")
    if not isinstance(weight, jax.core.Tracer) and np.any(np.asarray(weight) < 0):
        raise ValueError(f"the penalty weight must be >= 0, got {weight}")
    per_sample = jax.vmap(functools.partial(residual_loss, residual))(inputs, predictions, *args)
    return jnp.asarray(weight, per_sample.dtype) * jnp.mean(per_sample)
