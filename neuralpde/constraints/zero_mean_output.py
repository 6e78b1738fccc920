"""A hard zero-mean constraint on a model's predicted state, as a wrapper any model can wear.

The vorticity of periodic incompressible flow has zero mean (its integral is the circulation
round the torus), and so must every frame an emulator predicts. The wrapper projects the
predicted *state* of one channel orthogonally onto that constraint,

    u'_c = u_c − mean_x(u_c),

in physical units, which in the normalised units the model works in (``u = σ û + μ``) is
``û'_c = û_c − (mean_x(û_c) + μ_c/σ_c)``: a constant shift per sample, applied to the model's
output whether it predicts the state or the increment (``target``). Other channels pass
unchanged. The projection is linear, differentiable and idempotent, so it serves in training
(every objective), in rollouts and in evaluation alike.
"""

from __future__ import annotations

import jax.numpy as jnp

from neuralpde._typing import Array, Float
from neuralpde.data.normalization import Normalization


class ZeroMeanOutput:
    """``model`` whose predicted state has zero spatial mean in channel ``channel``.

    Args:
        model: ``(batch, *space, h · c)`` (and conditioning) to ``(batch, *space, c)``,
            normalised units, as :func:`~neuralpde.training.emulator.predict_next` calls it.
        normalization: the statistics the model works in.
        channel: the constrained channel's name (e.g. ``"vorticity"``).
        target: ``"state"`` or ``"difference"``: what ``model`` predicts.

    Raises:
        ValueError: an unknown channel or target.
    """

    def __init__(self, model, normalization: Normalization, channel: str, target: str):
        if channel not in normalization.channel_names:
            raise ValueError(f"no channel {channel!r} to constrain; channels: "
                             f"{list(normalization.channel_names)}")
        if target not in ("state", "difference"):
            raise ValueError(f"unknown target {target!r}; known: ['state', 'difference']")
        self.model, self.target = model, target
        self.index = normalization.channel_names.index(channel)
        self.n_channels = normalization.n_channels
        self.offset = jnp.asarray(normalization.mean)[self.index] / jnp.asarray(
            normalization.std)[self.index]

    def __call__(self, x: Float[Array, "batch *space hc"], conditioning=None) -> Float[
        Array, "batch *space c"
    ]:
        out = self.model(x, conditioning)
        c = self.index
        state = out[..., c]
        if self.target == "difference":
            state = state + x[..., x.shape[-1] - self.n_channels + c]
        space = tuple(range(1, state.ndim))
        shift = jnp.mean(state, axis=space, keepdims=True) + self.offset.astype(out.dtype)
        return out.at[..., c].add(-shift)
