"""The jitted, data-parallel train step and the validation loss.

The model is split once into a static graph and its parameters (``nnx.split``); the step is a
pure function of ``(params, opt_state, health, batch, step)`` so that ``jax.jit`` can donate the
buffers and the sharding of the inputs decides the parallelism: parameters and optimiser state
replicated, the batch sharded over the mesh axis ``data``. The loss is the mean over the global
batch, so any device count gives the same number up to the order of the reduction.

A non-finite loss or gradient skips the update and records the first such step and the
trajectories of its batch in ``health``; the loop reads ``health`` only when it logs, so no step
waits on the host.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from neuralpde.data.normalization import Normalization
from neuralpde.training.emulator import predict_next
from neuralpde.training.losses import LOSSES, mse
from neuralpde.training.objectives import ObjectiveConfig, OneStep, objective_loss

Batch = dict[str, jax.Array]


def initial_health(batch_size: int) -> dict[str, jax.Array]:
    """No bad step yet: ``bad_step = −1``."""
    return {
        "bad_step": jnp.array(-1, jnp.int32),
        "bad_trajectories": jnp.full((batch_size,), -1, jnp.int32),
    }


def _normalized(batch: Batch, normalization: Normalization):
    conditioning = batch.get("conditioning")
    if conditioning is not None and conditioning.shape[-1] == 0:
        conditioning = None
    if conditioning is not None:
        conditioning = normalization.normalize_parameters(conditioning)
    window = normalization.normalize(batch["input"])
    return window, normalization.normalize(batch["target"]), conditioning


@dataclasses.dataclass(frozen=True)
class TrainStep:
    """Builds and caches one compiled step per rollout length (a curriculum changes it).

    Args:
        graphdef, rest: the model's static graph and its non-trainable state (``nnx.split``).
        tx: the optax transformation.
        objective, loss, target: what to minimise (see :mod:`neuralpde.training.objectives`).
        seed: the run's seed; step ``s`` draws noise from ``fold_in(key(seed), s)``.
        replicated: the sharding of every output (parameters, optimiser state, health and
            metrics), e.g. ``NamedSharding(mesh, P())``; keeps them whole on every process.
        penalty: an optional soft physics term ``penalty(window, prediction, batch)`` on the
            one-step prediction from the normalised window
            (:func:`~neuralpde.training.physics_penalty.residual_penalty_for`), added to the
            loss and reported as the metric ``penalty``.
        constrain: wraps the model in its output constraint (``PhysicsConfig.constrained``).
        correction: ``correction(batch, normalization) -> correct(frame, window, i)``, a hard
            constraint on every predicted frame (:mod:`neuralpde.training.mass_balance`).
        gaussian: ``gaussian(normalization, target) -> make(model, conditioning, batch)`` for a
            variance head (``PhysicsConfig.gaussian``); ``loss`` must then be
            ``gaussian_nll``.
    """

    graphdef: Any
    rest: Any
    tx: optax.GradientTransformation
    objective: ObjectiveConfig
    loss: str
    target: str
    seed: int
    replicated: jax.sharding.Sharding | None = None
    penalty: Callable | None = None
    constrain: Callable = lambda model: model
    correction: Callable | None = None
    gaussian: Callable | None = None
    compiled: dict[int, Callable] = dataclasses.field(default_factory=dict)

    def __call__(self, params, opt_state, health, batch: Batch, normalization, step, length):
        if length not in self.compiled:
            self.compiled[length] = jax.jit(
                self._make(length), donate_argnums=(0, 1, 2), out_shardings=self.replicated
            )
        return self.compiled[length](params, opt_state, health, batch, normalization, step)

    def _make(self, length: int):
        loss_fn = LOSSES[self.loss]

        def train_step(params, opt_state, health, batch, normalization, step):
            window, future, conditioning = _normalized(batch, normalization)
            key = jax.random.fold_in(jax.random.key(self.seed), step)

            def loss_of(p):
                model = self.constrain(nnx.merge(self.graphdef, p, self.rest))
                correct = (None if self.correction is None
                           else self.correction(batch, normalization))
                predict = _gaussian(self.gaussian, model, conditioning, batch, normalization,
                                    self.target)
                loss = objective_loss(
                    model, window, future, conditioning, objective=self.objective,
                    length=length, loss=loss_fn, target=self.target, key=key, correct=correct,
                    gaussian=predict,
                )
                if self.penalty is None:
                    return loss, jnp.zeros((), loss.dtype)
                prediction = (predict_next(model, window, conditioning, self.target)
                              if predict is None else predict(window, 0).mean)
                penalty = self.penalty(window, prediction, batch)
                return loss + penalty, penalty

            (loss, penalty), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
            grad_norm = optax.tree.norm(grads)
            updates, new_opt_state = self.tx.update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)

            def keep(new, old):
                return jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, old)

            first_bad = (~finite) & (health["bad_step"] < 0)
            health = {
                "bad_step": jnp.where(first_bad, step.astype(jnp.int32), health["bad_step"]),
                "bad_trajectories": jnp.where(
                    first_bad, batch["trajectory"].astype(jnp.int32), health["bad_trajectories"]
                ),
            }
            metrics = {"loss": loss, "grad_norm": grad_norm}
            if self.penalty is not None:
                metrics["penalty"] = penalty
            return keep(new_params, params), keep(new_opt_state, opt_state), health, metrics

        return train_step


def _gaussian(gaussian, model, conditioning, batch, normalization, target):
    make = None if gaussian is None else gaussian(normalization, target)
    return None if make is None else make(model, conditioning, batch)


def make_validation_loss(graphdef, rest, target: str, replicated=None,
                         constrain: Callable = lambda model: model,
                         correction: Callable | None = None,
                         gaussian: Callable | None = None) -> Callable:
    """Jitted one-step MSE in normalised units (teacher forcing, no noise): the validation and
    best-checkpoint criterion, the same for every objective so that runs compare (a variance
    head is scored by the MSE of its mean)."""

    @functools.partial(jax.jit, out_shardings=replicated)
    def validation_loss(params, batch, normalization):
        window, future, conditioning = _normalized(batch, normalization)
        model = constrain(nnx.merge(graphdef, params, rest))
        correct = None if correction is None else correction(batch, normalization)
        predict = _gaussian(gaussian, model, conditioning, batch, normalization, target)
        return objective_loss(
            model, window, future, conditioning, objective=OneStep(), length=1,
            loss=mse if predict is None else lambda frame, truth: mse(frame.mean, truth),
            target=target, key=jax.random.key(0), correct=correct, gaussian=predict,
        )

    return validation_loss
