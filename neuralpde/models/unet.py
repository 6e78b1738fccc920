"""PDEArena's modern U-Net (wide residual blocks, GroupNorm, optional middle attention)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from neuralpde._typing import Array, Float
from neuralpde.config import ConfigError
from neuralpde.models._conv_layers import (
    PADDINGS,
    ConditionEmbedding,
    Padding,
    check_inputs,
    conv,
    film_from_embedding,
    gelu,
    group_norm,
    upsample,
)
from neuralpde.models.film import modulate


@dataclasses.dataclass(frozen=True, kw_only=True)
class UNetConfig:
    """Hyper-parameters of :class:`UNet` (see there); ``dtype`` is the activation dtype."""

    kind: Literal["unet"] = "unet"
    in_channels: int
    out_channels: int
    spatial_dims: int = 2
    hidden_channels: int = 64
    channel_multipliers: tuple[int, ...] = (1, 2, 2, 4)
    blocks_per_level: int = 2
    attention_middle: bool = False
    norm_groups: int = 8
    n_conditioning: int = 0
    padding: Literal["circular", "zeros"] = "circular"
    dtype: Literal["float32", "bfloat16"] = "float32"

    def __post_init__(self):
        object.__setattr__(self, "channel_multipliers", tuple(self.channel_multipliers))
        try:
            check_sizes(**{name: getattr(self, name) for name in _SIZES})
        except ValueError as error:
            raise ConfigError(f"UNetConfig: {error}") from error
        if self.padding not in PADDINGS:
            raise ConfigError(f"UNetConfig: padding must be one of {PADDINGS}")


_SIZES = (
    "in_channels",
    "out_channels",
    "spatial_dims",
    "hidden_channels",
    "channel_multipliers",
    "blocks_per_level",
    "norm_groups",
    "n_conditioning",
)


def check_sizes(
    *,
    in_channels: int,
    out_channels: int,
    spatial_dims: int,
    hidden_channels: int,
    channel_multipliers: tuple[int, ...],
    blocks_per_level: int,
    norm_groups: int,
    n_conditioning: int,
) -> None:
    """Raise a ``ValueError`` naming the first size that cannot build a :class:`UNet`."""
    for name, value in [
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("hidden_channels", hidden_channels),
        ("blocks_per_level", blocks_per_level),
        ("norm_groups", norm_groups),
    ]:
        if value < 1:
            raise ValueError(f"{name} must be ≥ 1, got {value}")
    if spatial_dims not in (1, 2, 3):
        raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims}")
    if not channel_multipliers or min(channel_multipliers) < 1:
        raise ValueError(f"channel_multipliers must be ≥ 1 each, got {channel_multipliers}")
    if n_conditioning < 0:
        raise ValueError(f"n_conditioning must be ≥ 0, got {n_conditioning}")
    # Every normalised width (level widths and skip concatenations) is a multiple of hidden.
    if hidden_channels % norm_groups:
        raise ValueError(f"norm_groups={norm_groups} must divide {hidden_channels=}")


class ResidualBlock(nnx.Module):
    """Pre-activation residual block, ``y = conv₂(σ(FiLM(N₂(conv₁(σ(N₁ x)))))) + S x``.

    ``N`` is GroupNorm, ``σ`` GELU, ``conv`` a 3^d convolution, ``S`` a 1×1 convolution where
    the width changes (identity otherwise), ``FiLM`` the optional ``(1 + γ) ⊙ h + β`` from the
    conditioning embedding (PDEArena's ``use_scale_shift_norm``).
    """

    def __init__(
        self, c_in: int, c_out: int, n_dims: int, padding: Padding, groups: int, embed: int, **kw
    ):
        self.norm1 = group_norm(c_in, groups, **kw)
        self.conv1 = conv(c_in, c_out, n_dims, 3, padding, **kw)
        self.norm2 = group_norm(c_out, groups, **kw)
        self.conv2 = conv(c_out, c_out, n_dims, 3, padding, **kw)
        self.shortcut = conv(c_in, c_out, n_dims, 1, padding, **kw) if c_in != c_out else None
        self.film = nnx.Linear(embed, 2 * c_out, **kw) if embed else None

    def __call__(
        self, x: Float[Array, "batch *space c_in"], embedding: Float[Array, "batch embed"] | None
    ) -> Float[Array, "batch *space c_out"]:
        h = self.norm2(self.conv1(gelu(self.norm1(x))))
        if self.film is not None:
            h = modulate(h, *film_from_embedding(self.film, embedding))
        h = self.conv2(gelu(h))
        return h + (x if self.shortcut is None else self.shortcut(x))


class SelfAttention(nnx.Module):
    """Single-head self-attention over all grid points, ``x + W_o softmax(q kᵀ/√c) v``.

    ``(q, k, v) = W_qkv N(x)`` with GroupNorm ``N``; the softmax runs over keys.
    """

    def __init__(self, channels: int, groups: int, **kw):
        self.norm = group_norm(channels, groups, **kw)
        self.qkv = nnx.Linear(channels, 3 * channels, **kw)
        self.out = nnx.Linear(channels, channels, **kw)

    def __call__(self, x: Float[Array, "batch *space c"]) -> Float[Array, "batch *space c"]:
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        # PDEArena's block (from labml) builds this norm but skips it, and normalises over
        # queries; the count is the same, and we keep the usual pre-norm, key-softmax form.
        q, k, v = jnp.split(self.qkv(self.norm(flat)), 3, axis=-1)
        weights = jax.nn.softmax(jnp.einsum("bic,bjc->bij", q, k) * q.shape[-1] ** -0.5, -1)
        return x + self.out(jnp.einsum("bij,bjc->bic", weights, v)).reshape(x.shape)


class UNet(nnx.Module):
    """PDEArena's modern U-Net, channels-last and dimension-generic (1D, 2D, 3D)::

        h = conv(u);  level l = 0 … L−1 down: n residual blocks to width c_l, then a stride-2
        3^d conv (not after the last); middle: block, [attention], block; up, l = L−1 … 0:
        n + 1 residual blocks on [h, skip] (the last one narrows to c_l / m_l), then a stride-2
        4^d transposed conv (not after l = 0);  y = conv(σ(N(h)))

    with ``c_l = hidden · m_0 ⋯ m_l`` for ``channel_multipliers = (m_0, …)``. Every block
    output, each downsampled map and the lifted input is a skip, consumed in reverse order.
    Spatial sizes must be divisible by ``2^(L−1)``. With ``padding="circular"`` every conv,
    the transposed ones included, is periodic, and the model commutes with shifts by multiples
    of ``2^(L−1)`` points; ``"zeros"`` reproduces PyTorch's zero padding.

    Args:
        in_channels, out_channels: channels of the input and output fields.
        spatial_dims: 1, 2 or 3.
        hidden_channels: width after the lifting convolution.
        channel_multipliers: width factor per level (its length ``L`` sets the depth).
        blocks_per_level: residual blocks per level on the way down (``n``).
        attention_middle: self-attention between the two middle blocks.
        norm_groups: GroupNorm groups (PDEArena's blocks use 1, its final norm 8).
        n_conditioning: scalar parameters, FiLM-modulating every block; ``0`` disables it.
        padding: ``"circular"`` (periodic) or ``"zeros"``.
        dtype, param_dtype: activation and parameter dtypes.
        rngs: the ``params`` stream draws the weights.

    Returns from ``__call__``: ``(batch, *space, out_channels)`` in ``promote(dtype, float32)``.

    Reference:
        Gupta, Brandstetter (2023), "Towards Multi-spatiotemporal-scale Generalized PDE
        Modeling", TMLR (``pdearena/modules/twod_unet.py``, ``Unet``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        spatial_dims: int = 2,
        hidden_channels: int = 64,
        channel_multipliers: Sequence[int] = (1, 2, 2, 4),
        blocks_per_level: int = 2,
        attention_middle: bool = False,
        norm_groups: int = 8,
        n_conditioning: int = 0,
        padding: Padding = "circular",
        dtype: jnp.dtype | str = jnp.float32,
        param_dtype: jnp.dtype | str = jnp.float32,
        rngs: nnx.Rngs,
    ):
        mults = tuple(channel_multipliers)
        check_sizes(
            in_channels=in_channels,
            out_channels=out_channels,
            spatial_dims=spatial_dims,
            hidden_channels=hidden_channels,
            channel_multipliers=mults,
            blocks_per_level=blocks_per_level,
            norm_groups=norm_groups,
            n_conditioning=n_conditioning,
        )
        self.in_channels, self.spatial_dims = in_channels, spatial_dims
        self.n_conditioning, self.halvings = n_conditioning, len(mults) - 1
        self.dtype = jnp.dtype(dtype)
        kw = dict(dtype=self.dtype, param_dtype=jnp.dtype(param_dtype), rngs=rngs)
        embed = 4 * hidden_channels if n_conditioning else 0
        d, g = spatial_dims, norm_groups

        def block(c_in, c_out):
            return ResidualBlock(c_in, c_out, d, padding, g, embed, **kw)

        self.embedding = ConditionEmbedding(n_conditioning, embed, **kw) if embed else None
        self.lift = conv(in_channels, hidden_channels, d, 3, padding, **kw)
        c, down, self.downsample = hidden_channels, [], nnx.List()
        for level, m in enumerate(mults):
            blocks = [block(c if i == 0 else c * m, c * m) for i in range(blocks_per_level)]
            down.append(nnx.List(blocks))
            c = c * m
            if level < len(mults) - 1:
                self.downsample.append(conv(c, c, d, 3, padding, stride=2, **kw))
        self.down = nnx.List(down)
        self.middle = nnx.List([block(c, c), block(c, c)])
        self.attention = SelfAttention(c, g, **kw) if attention_middle else None
        up, self.upsample = [], nnx.List()
        for level in reversed(range(len(mults))):
            narrow = c // mults[level]
            blocks = [block(2 * c, c) for _ in range(blocks_per_level)]
            up.append(nnx.List([*blocks, block(c + narrow, narrow)]))
            c = narrow
            if level > 0:
                self.upsample.append(upsample(c, d, padding, **kw))
        self.up = nnx.List(up)
        self.crop_upsampled = padding == "zeros"
        self.norm = group_norm(c, g, **kw)
        self.project = conv(c, out_channels, d, 3, padding, **kw)

    def __call__(
        self,
        u: Float[Array, "batch *space channel"],
        conditioning: Float[Array, "batch parameter"] | None = None,
    ) -> Float[Array, "batch *space out"]:
        """Map ``u`` of shape ``(batch, *space, in_channels)`` to ``(batch, *space, out)``."""
        check_inputs(
            "UNet",
            u,
            conditioning,
            spatial_dims=self.spatial_dims,
            in_channels=self.in_channels,
            n_conditioning=self.n_conditioning,
            halvings=self.halvings,
        )
        e = None if self.embedding is None else self.embedding(conditioning.astype(self.dtype))
        h = self.lift(u.astype(self.dtype))
        skips = [h]
        for level, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, e)
                skips.append(h)
            if level < self.halvings:
                h = self.downsample[level](h)
                skips.append(h)
        h = self.middle[0](h, e)
        if self.attention is not None:
            h = self.attention(h)
        h = self.middle[1](h, e)
        for i, blocks in enumerate(self.up):
            for block in blocks:
                h = block(jnp.concatenate([h, skips.pop()], axis=-1), e)
            if i < self.halvings:
                h = self.upsample[i](h)
                if self.crop_upsampled:  # PyTorch's padding=1: drop one point at each end
                    h = h[(slice(None), *[slice(1, -1)] * self.spatial_dims)]
        h = self.project(gelu(self.norm(h)))
        return h.astype(jnp.promote_types(self.dtype, jnp.float32))


def reference_configs() -> dict[str, UNetConfig]:
    """PDEArena's U-Nets for 2D incompressible Navier–Stokes (smoke buoyancy).

    Inputs are 4 history steps of a scalar and a 2-vector (12 channels), outputs one step
    (3 channels); PDEArena pads with zeros and uses one GroupNorm group in its blocks.
    Parameters (PDEArena ``docs/models_fwd_time.json``): ``unetmod-64`` 144,263,683 and
    ``unetmodattn-64`` 148,464,131.
    """
    base = UNetConfig(in_channels=12, out_channels=3, norm_groups=1, padding="zeros")
    return {
        "unetmod-64": base,
        "unetmodattn-64": dataclasses.replace(base, attention_middle=True),
    }
