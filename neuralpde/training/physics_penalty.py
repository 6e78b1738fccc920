"""The physics options of a training config: a PINN penalty on the data's own equation, a
conservation law imposed on the model's output (hard, or ProbConserv's update with a variance
head), and local hard constraints per subdomain.

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
from neuralpde.training.gaussian_head import gaussian_predictor, law_target

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
        variance: ``"head"``: the model predicts a variance beside each mean (``out_channels``
            twice the data's channels) and is trained by ``loss: gaussian_nll``; a
            ``zero_mean`` or ``mass_balance`` law is then imposed by ProbConserv's update
            instead of the orthogonal projection (:mod:`neuralpde.training.gaussian_head`).
        sigma2: ProbConserv's observation noise ``σ² ≥ 0`` with the variance head (``0``: the
            law holds exactly).
        local_constraint: ``"cells"`` or ``"subdomain_balance"`` imposes the data's discrete
            equation on every predicted frame, tile by tile
            (:mod:`neuralpde.training.local_constraint`); ``experts`` gives the tiles per axis,
            ``sweeps`` and ``schedule`` the Schwarz sweeps of ``cells`` (each sweep shrinks the
            error by a factor that grows with ``Δt k/h²``; multiplicative converges about twice
            as fast per sweep), ``degree`` the polynomial of ``subdomain_balance``.
    """

    residual_weight: float = 0.0
    constraint: Literal["none", "zero_mean", "mass_balance"] = "none"
    constraint_channel: str = "vorticity"
    variance: Literal["none", "head"] = "none"
    sigma2: float = 0.0
    local_constraint: Literal["none", "cells", "subdomain_balance"] = "none"
    experts: tuple[int, ...] = ()
    sweeps: int = 4
    schedule: Literal["additive", "multiplicative"] = "additive"
    degree: int = 0

    def __post_init__(self):
        if not self.residual_weight >= 0:
            raise ConfigError(f"physics: residual_weight must be ≥ 0, got {self.residual_weight}")
        if self.constraint not in ("none", "zero_mean", "mass_balance"):
            raise ConfigError(f"physics: unknown constraint {self.constraint!r}; known: "
                              f"['none', 'zero_mean', 'mass_balance']")
        if self.variance not in ("none", "head"):
            raise ConfigError(f"physics: variance must be 'none' or 'head', got "
                              f"{self.variance!r}")
        if not self.sigma2 >= 0 or (self.sigma2 and self.variance != "head"):
            raise ConfigError(f"physics: sigma2 must be ≥ 0 and is used with variance: head "
                              f"only, got sigma2={self.sigma2} with variance={self.variance!r}")
        local = self.local_constraint
        if local not in ("none", "cells", "subdomain_balance"):
            raise ConfigError(f"physics: unknown local_constraint {local!r}; known: "
                              f"['none', 'cells', 'subdomain_balance']")
        if local != "none" and not self.experts:
            raise ConfigError(f"physics: local_constraint {local!r} needs experts, the tiles "
                              f"per axis, e.g. [4] or [2, 2]")
        if local != "none" and (self.constraint != "none" or self.variance != "none"):
            raise ConfigError(f"physics: local_constraint {local!r} corrects the frame itself; "
                              f"it does not combine with constraint {self.constraint!r} or "
                              f"variance {self.variance!r}")
        if self.sweeps < 1 or self.degree not in (0, 1) or self.schedule not in (
                "additive", "multiplicative"):
            raise ConfigError(f"physics: sweeps must be ≥ 1, degree 0 or 1 and schedule "
                              f"additive or multiplicative, got {self.sweeps}, {self.degree} "
                              f"and {self.schedule!r}")

    @property
    def output_factor(self) -> int:
        """Model output channels per data channel: 2 with the variance head."""
        return 2 if self.variance == "head" else 1

    def gaussian(self, normalization: Normalization, target: str):
        """With the variance head, ``make(model, conditioning, batch) -> predict(window, i)``
        (:func:`~neuralpde.training.gaussian_head.gaussian_predictor`); else ``None``."""
        if self.variance != "head":
            return None
        channel = 0
        if self.constraint == "zero_mean":
            if self.constraint_channel not in normalization.channel_names:
                raise ConfigError(f"physics.constraint zero_mean: no channel "
                                  f"{self.constraint_channel!r}; channels: "
                                  f"{list(normalization.channel_names)}")
            channel = normalization.channel_names.index(self.constraint_channel)

        def make(model, conditioning, batch):
            beta = law_target(self.constraint, normalization, channel, batch)
            return gaussian_predictor(model, conditioning, target, beta, channel, self.sigma2)

        return make

    def constrained(self, model, normalization: Normalization, target: str):
        """``model`` wearing the configured output constraint (itself for ``"none"``, for
        ``"mass_balance"``, which needs each window's budget and acts in the objective, and
        with the variance head, whose update acts there too)."""
        if self.constraint != "zero_mean" or self.variance == "head":
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


def data_residual(recipe, parameters: tuple[str, ...]):
    """The discrete residual of the equation that made the data, per sample.

    Returns:
        ``(residual, parameter_of)``: ``residual(u0, u1, parameter, frame) -> r`` on unbatched
        fields ``(*space)`` in physical units, ``frame`` the index of ``u0`` in its trajectory
        (the porous-medium boundary data depend on time), and ``parameter_of(batch) (batch,)``
        each sample's varying parameter from the batch's raw ``conditioning``.

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
        raise ConfigError(f"the data's equation needs each trajectory's {name!r}: add it to "
                          f"data.parameters (now {list(parameters)})")
    column = parameters.index(name) if name in parameters else None
    dt = float(recipe.store_interval)

    def residual(u0, u1, parameter, frame):
        if isinstance(recipe, PorousMediumRecipe):
            pde, _ = porous_medium.build(recipe, parameter)
            return PorousMediumResidual(pde, dt)(u0, u1, times[frame])
        grid = navier_stokes.store_grid(recipe)
        forcing = navier_stokes.forcing_field(recipe, grid, jnp.float32)
        viscosity = recipe.viscosity_range[0] if column is None else parameter
        pde = navier_stokes.NavierStokes2D(grid, viscosity, recipe.drag, forcing, jnp.float32)
        return NavierStokesResidual(pde, dt)(u0, u1)

    def parameter_of(batch):
        if column is None:
            return jnp.zeros(batch["conditioning"].shape[:1], jnp.float32)
        return batch["conditioning"][:, column].astype(jnp.float32)

    return residual, parameter_of


def residual_penalty_for(recipe, weight: float, parameters: tuple[str, ...], history: int,
                         normalization: Normalization) -> Penalty:
    """``penalty(window, prediction, batch) -> P`` for normalised ``window (B, h, *space, C)``
    and ``prediction (B, *space, C)``; the residual acts on channel 0 (vorticity or ``u``).

    Raises:
        ConfigError: the recipe's varying parameter is not conditioned on.
    """
    residual, parameter_of = data_residual(recipe, parameters)

    def penalty(window, prediction, batch):
        u0 = normalization.denormalize(window[:, -1])[..., 0]
        u1 = normalization.denormalize(prediction)[..., 0]
        frame = batch["start"] + history - 1
        r = jax.vmap(residual)(u0, u1, parameter_of(batch).astype(u0.dtype), frame)
        return weight * jnp.mean(jnp.square(r))

    return penalty
