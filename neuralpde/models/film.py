"""FiLM conditioning: scalar parameters mapped to a per-layer, per-channel scale and shift."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from neuralpde._typing import Array, Float


class FiLM(nnx.Module):
    """A small MLP from scalar parameters (viscosity, exponent, ...) to feature-wise modulations::

        (γ, β) = MLP(p),   h ↦ (1 + γ_l) ⊙ h + β_l   in layer l, broadcast over space.

    The MLP is ``Linear(n_conditioning → hidden) → GELU → Linear(hidden → 2 n_layers channels)``.
    Parameters should arrive normalised (order one); that is the data pipeline's job.

    Args:
        n_conditioning: number of scalar parameters per sample.
        channels: channels modulated in each layer.
        n_layers: layers that receive their own ``(γ, β)``.
        hidden: hidden width of the MLP (default ``channels``).
        dtype: compute dtype; param_dtype: dtype of the weights.
        rngs: the ``params`` stream draws the weights.

    Reference:
        Perez, Strub, de Vries, Dumoulin, Courville (2018), "FiLM: Visual Reasoning with a General
        Conditioning Layer", AAAI.
    """

    def __init__(
        self,
        n_conditioning: int,
        channels: int,
        n_layers: int,
        *,
        hidden: int | None = None,
        dtype: jnp.dtype = jnp.float32,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if n_conditioning < 1:
            raise ValueError(f"FiLM needs n_conditioning ≥ 1, got {n_conditioning}")
        hidden = channels if hidden is None else hidden
        self.n_conditioning = n_conditioning
        self.channels = channels
        self.n_layers = n_layers
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.hidden = nnx.Linear(n_conditioning, hidden, **kw)
        self.out = nnx.Linear(hidden, 2 * n_layers * channels, **kw)

    def __call__(
        self, conditioning: Float[Array, "batch parameter"]
    ) -> tuple[Float[Array, "layer batch channel"], Float[Array, "layer batch channel"]]:
        """Scales ``γ`` and shifts ``β``, each ``(n_layers, batch, channels)``."""
        h = self.out(jax.nn.gelu(self.hidden(conditioning), approximate=False))
        h = h.reshape(h.shape[0], self.n_layers, 2, self.channels)
        return jnp.moveaxis(h[:, :, 0], 1, 0), jnp.moveaxis(h[:, :, 1], 1, 0)


def modulate(
    h: Float[Array, "batch *space channel"],
    scale: Float[Array, "batch channel"],
    shift: Float[Array, "batch channel"],
) -> Float[Array, "batch *space channel"]:
    """``(1 + scale) ⊙ h + shift``, with scale and shift broadcast over the spatial axes."""
    expand = (slice(None),) + (None,) * (h.ndim - 2) + (slice(None),)
    return (1 + scale[expand]) * h + shift[expand]


def check_conditioning(model: str, batch: int, n_conditioning: int, conditioning) -> None:
    """Raise a ``ValueError`` unless ``conditioning`` fits a model built with ``n_conditioning``
    parameters: ``None`` for ``0``, else shape ``(batch, n_conditioning)``."""
    if n_conditioning == 0 and conditioning is not None:
        raise ValueError(
            f"this {model} was built with n_conditioning=0 but received conditioning of shape "
            f"{tuple(conditioning.shape)}; build it with n_conditioning > 0 to use it"
        )
    expected = (batch, n_conditioning)
    if n_conditioning > 0 and (conditioning is None or tuple(conditioning.shape) != expected):
        got = None if conditioning is None else tuple(conditioning.shape)
        raise ValueError(
            f"this {model} was built with n_conditioning={n_conditioning} and needs conditioning "
            f"of shape (batch, n_conditioning) = {expected}, got {got}"
        )
