"""Per-channel normalisation ``(u − μ) / σ``, with the statistics of the training split.

The statistics are computed once over the training split (see :mod:`neuralpde.data.statistics`)
and applied identically to training, validation and test data, and inside rollouts.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from neuralpde._typing import Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Normalization:
    """Channel and parameter statistics; a PyTree, so it can enter ``jit`` as an argument.

    Attributes:
        mean, std: per-channel mean and standard deviation, ``(channel,)``.
        parameter_mean, parameter_std: per-parameter statistics of the conditioning
            scalars, ``(parameter,)``; a constant parameter gets ``σ = 1``.
        channel_names, parameter_names: what the entries are (static).
    """

    mean: Array
    std: Array
    parameter_mean: Array
    parameter_std: Array
    channel_names: tuple[str, ...] = dataclasses.field(metadata=dict(static=True))
    parameter_names: tuple[str, ...] = dataclasses.field(
        default=(), metadata=dict(static=True)
    )

    def __post_init__(self):
        n_c, n_p = len(self.channel_names), len(self.parameter_names)
        shapes = [np.shape(self.mean), np.shape(self.std)]
        if any(s != (n_c,) for s in shapes):
            raise ValueError(f"mean and std must have shape ({n_c},), got {shapes}")
        shapes = [np.shape(self.parameter_mean), np.shape(self.parameter_std)]
        if any(s != (n_p,) for s in shapes):
            raise ValueError(f"parameter statistics must have shape ({n_p},), got {shapes}")

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    def normalize(self, u: Array) -> Array:
        """``(u − μ) / σ`` over the last (channel) axis."""
        return (u - jnp.asarray(self.mean, u.dtype)) / jnp.asarray(self.std, u.dtype)

    def denormalize(self, u: Array) -> Array:
        """``u σ + μ`` over the last (channel) axis."""
        return u * jnp.asarray(self.std, u.dtype) + jnp.asarray(self.mean, u.dtype)

    def normalize_parameters(self, p: Array) -> Array:
        """``(p − μ_p) / σ_p`` for conditioning scalars ``(batch, parameter)``."""
        return (p - jnp.asarray(self.parameter_mean, p.dtype)) / jnp.asarray(
            self.parameter_std, p.dtype
        )

    @classmethod
    def identity(cls, channel_names, parameter_names=()) -> Normalization:
        """``μ = 0, σ = 1``: no normalisation."""
        c, p = len(channel_names), len(parameter_names)
        return cls(np.zeros(c, np.float32), np.ones(c, np.float32), np.zeros(p, np.float32),
                   np.ones(p, np.float32), tuple(channel_names), tuple(parameter_names))
