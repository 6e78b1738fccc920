"""``physics.local_constraint``: the data's own discrete equation imposed on every predicted frame,
subdomain by subdomain (PI-HC-MoE, Chalapathi et al., ICLR 2024), in training and rollouts.

Each predicted frame ``u₁`` of channel 0 (vorticity or ``u``), in physical units, is corrected
against the residual ``r(u₀, u₁)`` of the equation that made the data over one stored interval
(:func:`~neuralpde.training.physics_penalty.data_residual`: the porous-medium finite-volume
residual, trapezoidal in time, or the Navier–Stokes vorticity residual, implicit midpoint), ``u₀``
the frame before it:

- ``cells``: every cell's residual vanishes. The ``experts`` tiles each solve their own cells by
  Newton's method, in ``sweeps`` additive Schwarz sweeps
  (:class:`~neuralpde.constraints.LocalHardConstraint`). Needs a local stencil: porous-medium
  data only.
- ``subdomain_balance``: on every tile the residual's moments against a polynomial of degree
  ``degree`` vanish, the correction being such a polynomial per tile; degree 0 is each
  subdomain's flux balance (:class:`~neuralpde.constraints.SubdomainBalance`). Any residual,
  spectral ones included: both equation families.

Both differentiate through the solves by the implicit function theorem. The corrected frame is
what the loss scores and what the rollout continues from.
"""

from __future__ import annotations

from collections.abc import Callable

import jax

from neuralpde.config import ConfigError
from neuralpde.constraints.local_hard_constraint import LocalHardConstraint
from neuralpde.constraints.subdomain_balance import SubdomainBalance
from neuralpde.data.normalization import Normalization
from neuralpde.datagen.porous_medium_recipe import PorousMediumRecipe
from neuralpde.training.physics_penalty import PhysicsConfig, data_residual


def local_correction(physics: PhysicsConfig, recipe, parameters: tuple[str, ...], history: int,
                     spatial_shape: tuple[int, ...]) -> Callable:
    """``correction(batch, normalization) -> correct(frame, window, i)`` for
    :func:`~neuralpde.training.objectives.objective_loss` and the rollouts; ``batch`` needs the
    raw ``conditioning (B, p)`` and each window's first frame ``start (B,)``.

    Raises:
        ConfigError: the tiling does not fit the grid, or ``cells`` on non-local (spectral) data.
    """
    experts = tuple(physics.experts)
    if len(experts) != len(spatial_shape) or any(
            k < 1 or n % k for n, k in zip(spatial_shape, experts, strict=False)):
        raise ConfigError(f"physics.experts {list(experts)} must give one tile count per axis of "
                          f"the grid {spatial_shape}, each dividing its size")
    if physics.local_constraint == "cells":
        if not isinstance(recipe, PorousMediumRecipe):
            raise ConfigError("physics.local_constraint: cells needs a local stencil, and the "
                              "Navier–Stokes residual is spectral (every cell couples to every "
                              "other); use subdomain_balance")
        layer = LocalHardConstraint(experts, sweeps=physics.sweeps, schedule=physics.schedule)
    else:
        layer = SubdomainBalance(experts, degree=physics.degree)
    residual, parameter_of = data_residual(recipe, parameters)

    def correction(batch, normalization: Normalization):
        parameter = parameter_of(batch)
        mean, std = normalization.mean[0], normalization.std[0]

        def correct(frame, window, i):
            u0 = normalization.denormalize(window[:, -1])[..., 0]
            u1 = normalization.denormalize(frame)[..., 0].astype(u0.dtype)
            first = batch["start"] + history - 1 + i

            def one(a, b, p, f):
                return layer(lambda u: residual(a, u, p, f), b)

            fixed = jax.vmap(one)(u0, u1, parameter.astype(u0.dtype), first)
            return frame.at[..., 0].set(((fixed - mean) / std).astype(frame.dtype))

        return correct

    return correction
