"""The physics options of a training config: a PINN penalty on the data's own equation, and a
hard zero-mean constraint on the model's output.

With ``physics.residual_weight = λ > 0`` the training objective gains

    P = λ · (1/B) Σ_b mean_x r(u₀_b, u₁_b)²,

``u₀`` the last input frame and ``u₁`` the model's one-step prediction from the window, both in
physical units, and ``r`` the discrete residual of the equation that generated the data over
one stored interval ``Δt`` (:mod:`neuralpde.constraints.residual_penalty`): the Navier–Stokes
vorticity residual (spectral, implicit midpoint) or the porous-medium finite-volume residual
(trapezoidal, with the boundary data at each frame's time). The equation is rebuilt from the
recipe recorded in the training files (or the online recipe), with each trajectory's own
parameter (viscosity, diffusivity, exponent or melting threshold) taken from the batch's
conditioning, so that parameter must be among ``data.parameters``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import yaml

from neuralpde.config import ConfigError, from_dict
from neuralpde.constraints.navier_stokes_residual import NavierStokesResidual
from neuralpde.constraints.porous_medium_residual import PorousMediumResidual
from neuralpde.constraints.zero_mean_output import ZeroMeanOutput
from neuralpde.data.normalization import Normalization
from neuralpde.datagen import navier_stokes, porous_medium
from neuralpde.datagen.navier_stokes_recipe import NavierStokesRecipe
from neuralpde.datagen.porous_medium_recipe import PorousMediumRecipe
from neuralpde.datagen.recipes import RECIPE_TYPES
from neuralpde.io import TrajectoryFile

Penalty = Callable[..., jax.Array]


@dataclasses.dataclass(frozen=True, kw_only=True)
class PhysicsConfig:
    """Physics in the model and the training objective.

    Attributes:
        residual_weight: ``λ ≥ 0`` of the soft penalty above; ``0`` switches it off.
        constraint: ``"zero_mean"`` makes the model's predicted state of ``constraint_channel``
            exactly zero-mean (:class:`~neuralpde.constraints.ZeroMeanOutput`, the
            Navier–Stokes vorticity law) in training, validation and every rollout;
            ``"mass_balance"`` projects every predicted frame onto the files' mass budget
            (:mod:`neuralpde.training.mass_balance`, porous-medium data) in training,
            validation and rollouts.
        constraint_channel: the channel ``zero_mean`` constrains.
    """

    residual_weight: float = 0.0
    constraint: Literal["none", "zero_mean", "mass_balance"] = "none"
    constraint_channel: str = "vorticity"

    def __post_init__(self):
        if not self.residual_weight >= 0:
            raise ConfigError(f"physics: residual_weight must be ≥ 0, got {self.residual_weight}")
        if self.constraint not in ("none", "zero_mean", "mass_balance"):
            raise ConfigError(f"physics: unknown constraint {self.constraint!r}; known: "
                              f"['none', 'zero_mean', 'mass_balance']")

    def constrained(self, model, normalization: Normalization, target: str):
        """``model`` wearing the configured output constraint (itself for ``"none"`` and
        ``"mass_balance"``, which needs each window's budget and acts in the objective)."""
        if self.constraint != "zero_mean":
            return model
        try:
            return ZeroMeanOutput(model, normalization, self.constraint_channel, target)
        except ValueError as error:
            raise ConfigError(f"physics.constraint {self.constraint!r}: {error}") from error


def recorded_recipe(path: str | Path):
    """The recipe that wrote a trajectory file, from its provenance."""
    with TrajectoryFile(path) as reader:
        text = reader.provenance.get("config")
    if text is None:
        raise ConfigError(f"{path} records no recipe (not written by neuralpde generate): the "
                          "physics penalty needs the equation that made the data")
    data = yaml.safe_load(text)
    return from_dict(RECIPE_TYPES[data.get("kind", "navier_stokes_2d")], data, where=str(path))


def residual_penalty_for(recipe, weight: float, parameters: tuple[str, ...], history: int,
                         normalization: Normalization) -> Penalty:
    """``penalty(window, prediction, batch) -> P`` for normalised ``window (B, h, *space, C)``
    and ``prediction (B, *space, C)``; the residual acts on channel 0 (vorticity or ``u``).

    Raises:
        ConfigError: the recipe's varying parameter is not conditioned on.
    """
    if isinstance(recipe, PorousMediumRecipe):
        name = recipe.parameter_name
        times = jnp.asarray(recipe.frame_times(), jnp.float32)
    elif isinstance(recipe, NavierStokesRecipe):
        name = "viscosity"
        constant = recipe.viscosity_range[0] == recipe.viscosity_range[1]
    else:
        raise ConfigError(f"no residual for recipe type {type(recipe).__name__}")
    if name not in parameters and not (name == "viscosity" and constant):
        raise ConfigError(f"the physics penalty needs each trajectory's {name!r}: add it to "
                          f"data.parameters (now {list(parameters)})")
    column = parameters.index(name) if name in parameters else None
    dt = float(recipe.store_interval)

    def one(u0, u1, parameter, start):
        if isinstance(recipe, PorousMediumRecipe):
            pde, _ = porous_medium.build(recipe, parameter)
            return PorousMediumResidual(pde, dt)(u0, u1, times[start + history - 1])
        grid = navier_stokes.store_grid(recipe)
        forcing = navier_stokes.forcing_field(recipe, grid, jnp.float32)
        viscosity = recipe.viscosity_range[0] if column is None else parameter
        pde = navier_stokes.NavierStokes2D(grid, viscosity, recipe.drag, forcing, jnp.float32)
        return NavierStokesResidual(pde, dt)(u0, u1)

    def penalty(window, prediction, batch):
        u0 = normalization.denormalize(window[:, -1])[..., 0]
        u1 = normalization.denormalize(prediction)[..., 0]
        parameter = (batch["conditioning"][:, column] if column is not None
                     else jnp.zeros(u0.shape[:1], u0.dtype))
        residual = jax.vmap(one)(u0, u1, parameter.astype(u0.dtype), batch["start"])
        return weight * jnp.mean(jnp.square(residual))

    return penalty
