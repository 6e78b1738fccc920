"""Pieces shared by the convolutional U-shaped models: padded convs, norms, conditioning, checks."""

from __future__ import annotations

import math
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax

from neuralpde._typing import Array, Float
from neuralpde.models._group_norm import GroupNorm
from neuralpde.models._periodic_conv import PeriodicConv, PeriodicUpsample
from neuralpde.models.film import check_conditioning

Padding = Literal["circular", "zeros"]
PADDINGS: tuple[Padding, ...] = ("circular", "zeros")
AXES = ("x", "y", "z")


def conv(
    in_channels: int,
    out_channels: int,
    n_dims: int,
    kernel: int,
    padding: Padding,
    *,
    stride: int = 1,
    **kw,
) -> nnx.Module:
    """A ``kernel^d`` convolution that keeps the grid (``stride=1``) or halves it (``stride=2``).

    ``padding="circular"`` wraps the field periodically (:class:`PeriodicConv`: the parameters
    of ``nnx.Conv`` with ``padding="CIRCULAR"``, a faster gradient), ``"zeros"`` pads
    ``(k−1)//2`` zeros before and ``k//2`` after, as PyTorch does with ``padding=k//2`` for odd
    ``k``.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if padding == "circular":
        return PeriodicConv(in_channels, out_channels, n_dims, kernel, stride, **kw)
    pad = "VALID" if kernel == 1 else (((kernel - 1) // 2, kernel // 2),) * n_dims
    return nnx.Conv(
        in_channels, out_channels, (kernel,) * n_dims, strides=stride, padding=pad, **kw
    )


def upsample(channels: int, n_dims: int, padding: Padding, **kw) -> nnx.Module:
    """A 4^d transposed convolution of stride 2 that doubles the grid.

    ``"circular"``: flax's periodic transposed convolution (:class:`PeriodicUpsample`, the
    parameters of ``nnx.ConvTranspose`` with ``padding="CIRCULAR"``); ``"zeros"``: the full
    transposed convolution (``2n + 2`` points per axis), which the caller crops to PyTorch's
    ``padding=1``.
    """
    if padding == "circular":
        return PeriodicUpsample(channels, channels, n_dims, **kw)
    return nnx.ConvTranspose(channels, channels, (4,) * n_dims, 2, padding="VALID", **kw)


def group_norm(channels: int, groups: int, **kw) -> nnx.GroupNorm:
    """GroupNorm over space and ``channels / groups`` channels, with PyTorch's ε = 1e-5
    (:class:`GroupNorm`: ``nnx.GroupNorm``'s parameters and function, computed faster)."""
    return GroupNorm(channels, num_groups=groups, epsilon=1e-5, **kw)


@jax.custom_vjp
def gelu(h: Array) -> Array:
    """Exact GELU ``h Φ(h) = h (1 + erf(h/√2)) / 2`` (Hendrycks & Gimpel 2016).

    Its slope ``Φ(h) + h φ(h)`` is computed with the value and kept for the backward pass,
    which is then one product: XLA on CPU otherwise fuses the ``erf`` and ``exp`` of the
    slope into every reduction of the backward pass that reads it. Written with ``erf``, not
    ``jax.nn.gelu``'s ``erfc``, whose two branches XLA evaluates both of.
    """
    return _gelu_forward(h)[0]


def _gelu_forward(h):
    cdf = 0.5 * (1 + lax.erf(h * math.sqrt(0.5)))
    return h * cdf, cdf + h * jnp.exp(-0.5 * h * h) / math.sqrt(2 * math.pi)


def _gelu_backward(slope, g):
    return (g * slope,)


gelu.defvjp(_gelu_forward, _gelu_backward)


class ConditionEmbedding(nnx.Module):
    """Embedding ``e = σ(W₂ σ(W₁ p + b₁) + b₂)`` of scalar parameters ``p``, shared by all blocks.

    Each block maps ``e`` through its own linear layer to a FiLM scale and shift (see
    :func:`film_from_embedding`), as PDEArena's conditioned U-Nets do with their time and
    parameter embeddings (there from a Fourier embedding of ``p``; here ``p`` arrives
    normalised).

    Args:
        n_conditioning: number of scalar parameters per sample.
        width: embedding width (PDEArena: ``4 × hidden_channels``).
        dtype, param_dtype, rngs: as for ``nnx.Linear``.
    """

    def __init__(self, n_conditioning: int, width: int, **kw):
        self.hidden = nnx.Linear(n_conditioning, width, **kw)
        self.out = nnx.Linear(width, width, **kw)

    def __call__(self, p: Float[Array, "batch parameter"]) -> Float[Array, "batch embed"]:
        return gelu(self.out(gelu(self.hidden(p))))


def film_from_embedding(
    layer: nnx.Linear, embedding: Float[Array, "batch embed"]
) -> tuple[Float[Array, "batch channel"], Float[Array, "batch channel"]]:
    """Scale and shift ``(γ, β)``, each ``(batch, channel)``, from ``layer(e) = [γ, β]``."""
    scale, shift = jnp.split(layer(embedding), 2, axis=-1)
    return scale, shift


def check_inputs(
    model: str,
    u: Array,
    conditioning: Array | None,
    *,
    spatial_dims: int,
    in_channels: int,
    n_conditioning: int,
    halvings: int,
) -> None:
    """Raise a ``ValueError`` naming expected and actual shapes if the inputs do not fit.

    ``halvings`` is the number of times the model halves the grid: every spatial size must be
    a positive multiple of ``2**halvings``.
    """
    d = spatial_dims
    if u.ndim != d + 2 or u.shape[-1] != in_channels:
        expected = f"(batch, {', '.join(AXES[:d])}, {in_channels})"
        raise ValueError(
            f"{model} with spatial_dims={d} and in_channels={in_channels} expects input of "
            f"shape {expected}, got {tuple(u.shape)}"
        )
    space = tuple(u.shape[1:-1])
    divisor = 2**halvings
    if any(n % divisor or n == 0 for n in space):
        suggestion = tuple(max(divisor, divisor * math.ceil(n / divisor)) for n in space)
        raise ValueError(
            f"{model} halves the grid {halvings} times, so every spatial size must be divisible "
            f"by 2^{halvings} = {divisor}; got spatial shape {space} (pad or resample to a "
            f"multiple of {divisor}, e.g. {suggestion})"
        )
    check_conditioning(model, u.shape[0], n_conditioning, conditioning)
