"""SineNet: K sequential U-shaped waves, each a small U-Net, with wave residuals."""

from __future__ import annotations

import dataclasses
from typing import Literal

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
)
from neuralpde.models._resample import avg_pool2, bicubic_upsample2
from neuralpde.models.film import modulate


def sinenet_widths(hidden_channels: int, multiplier: float, levels: int) -> tuple[int, ...]:
    """Channel schedule ``c_l = ⌊hidden · multiplier^l⌋``, ``l = 0 … levels`` (SineNet's)."""
    return tuple(int(hidden_channels * multiplier**level) for level in range(levels + 1))


@dataclasses.dataclass(frozen=True, kw_only=True)
class SineNetConfig:
    """Hyper-parameters of :class:`SineNet` (see there); ``dtype`` is the activation dtype."""

    kind: Literal["sinenet"] = "sinenet"
    in_channels: int
    out_channels: int
    spatial_dims: int = 2
    hidden_channels: int = 64
    waves: int = 8
    levels: int = 4
    channel_multiplier: float = 1.425
    blocks_per_level: int = 1
    disentangle: bool = True
    wave_residual: bool = True
    norm_groups: int = 1
    n_conditioning: int = 0
    padding: Literal["circular", "zeros"] = "circular"
    dtype: Literal["float32", "bfloat16"] = "float32"

    def __post_init__(self):
        try:
            check_sizes(**{name: getattr(self, name) for name in _SIZES})
        except ValueError as error:
            raise ConfigError(f"SineNetConfig: {error}") from error
        if self.padding not in PADDINGS:
            raise ConfigError(f"SineNetConfig: padding must be one of {PADDINGS}")


_SIZES = (
    "in_channels",
    "out_channels",
    "spatial_dims",
    "hidden_channels",
    "waves",
    "levels",
    "channel_multiplier",
    "blocks_per_level",
    "norm_groups",
    "n_conditioning",
)


def check_sizes(*, channel_multiplier: float, spatial_dims: int, **sizes: int) -> None:
    """Raise a ``ValueError`` naming the first size that cannot build a :class:`SineNet`."""
    for name, value in sizes.items():
        if value < (0 if name == "n_conditioning" else 1):
            raise ValueError(f"{name} must be ≥ {int(name != 'n_conditioning')}, got {value}")
    if spatial_dims not in (1, 2, 3):
        raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims}")
    widths = sinenet_widths(sizes["hidden_channels"], channel_multiplier, sizes["levels"])
    if min(widths) < 1:
        raise ValueError(f"channel_multiplier={channel_multiplier} gives widths {widths}")
    if any(c % sizes["norm_groups"] for c in widths):
        raise ValueError(f"norm_groups={sizes['norm_groups']} must divide every width {widths}")


class ConvBlock(nnx.Module):
    """``y = σ(N₂ conv₂ FiLM(σ(N₁ conv₁ x)))`` (post-activation, 3^d convs, GroupNorm ``N``)."""

    def __init__(
        self, c_in: int, c_out: int, n_dims: int, padding: Padding, groups: int, embed: int, **kw
    ):
        self.conv1 = conv(c_in, c_out, n_dims, 3, padding, **kw)
        self.norm1 = group_norm(c_out, groups, **kw)
        self.conv2 = conv(c_out, c_out, n_dims, 3, padding, **kw)
        self.norm2 = group_norm(c_out, groups, **kw)
        self.film = nnx.Linear(embed, 2 * c_out, **kw) if embed else None

    def __call__(
        self, x: Float[Array, "batch *space c_in"], embedding: Float[Array, "batch embed"] | None
    ) -> Float[Array, "batch *space c_out"]:
        h = gelu(self.norm1(self.conv1(x)))
        if self.film is not None:
            h = modulate(h, *film_from_embedding(self.film, embedding))
        return gelu(self.norm2(self.conv2(h)))


class Stage(nnx.Module):
    """Residual conv blocks at one scale: ``h₁ = B₁(x) + S r``, ``h_{i+1} = B_{i+1}(h_i) + h_i``.

    ``x`` is the stage input (with any concatenated skip), ``r`` the map it continues (the
    pooled map going down, the upsampled map going up) and ``S`` a 1×1 convolution.
    """

    def __init__(
        self,
        c_in: int,
        c_res: int,
        c_out: int,
        n_blocks: int,
        n_dims: int,
        padding: Padding,
        groups: int,
        embed: int,
        **kw,
    ):
        widths = [c_in] + [c_out] * n_blocks
        self.blocks = nnx.List(
            [ConvBlock(a, c_out, n_dims, padding, groups, embed, **kw) for a in widths[:-1]]
        )
        self.shortcut = conv(c_res, c_out, n_dims, 1, padding, **kw)

    def __call__(
        self,
        x: Float[Array, "batch *space c_in"],
        residual: Float[Array, "batch *space c_res"],
        embedding: Float[Array, "batch embed"] | None,
    ) -> Float[Array, "batch *space c_out"]:
        h = self.blocks[0](x, embedding) + self.shortcut(residual)
        for block in self.blocks[1:]:
            h = block(h, embedding) + h
        return h


class SineNet(nnx.Module):
    """SineNet of Zhang et al. (2024), channels-last and dimension-generic (1D, 2D, 3D)::

        x = conv(u);  K waves:  x ← x + W_k(x);  y = conv(x)

    Each wave ``W_k`` is a U-Net with its own weights; waves meet only through ``x`` (no skip
    crosses a wave), as in the reference code. Down, for ``l = 1 … L``:
    ``h_l = D_l([P h_{l−1}, P^l x])`` from ``h_0 = x``, where ``P`` is 2× average pooling and
    the concatenated ``P^l x`` (not at ``l = 1``) is the *disentangled* parallel path that
    feeds the wave input to every scale beside the sequential path ``P h_{l−1}``. Up, for
    ``l = L−1 … 0``: ``g_l = U_l([h_l, I g_{l+1}])`` from ``g_L = h_L``, with ``I`` bicubic 2×
    upsampling (periodic with circular padding); the wave returns ``g_0``. ``D_l`` and ``U_l``
    are :class:`Stage` s of width ``c_l = ⌊hidden · multiplier^l⌋``. Spatial sizes must be
    divisible by ``2^L``; with circular padding the model commutes with shifts by multiples
    of ``2^L`` points.

    Args:
        in_channels, out_channels: channels of the input and output fields.
        spatial_dims: 1, 2 or 3.
        hidden_channels: width ``c_0`` of the lifted field, carried between waves.
        waves: number of waves ``K``.
        levels: halvings per wave ``L``.
        channel_multiplier: width growth per level (SineNet-8: 1.425).
        blocks_per_level: conv blocks per stage.
        disentangle: add the parallel path ``P^l x``; ``False`` keeps only the sequential one.
        wave_residual: ``x ← x + W_k(x)`` rather than ``x ← W_k(x)``.
        norm_groups: GroupNorm groups (must divide every width).
        n_conditioning: scalar parameters, FiLM-modulating every block; ``0`` disables it.
        padding: ``"circular"`` (periodic) or ``"zeros"`` (edge-clamped upsampling).
        dtype, param_dtype: activation and parameter dtypes.
        rngs: the ``params`` stream draws the weights.

    Returns from ``__call__``: ``(batch, *space, out_channels)`` in ``promote(dtype, float32)``.

    Reference:
        Zhang, Helwig, Lin, Xie, Fu, Wojtowytsch, Ji (2024), "SineNet: Learning Temporal
        Dynamics in Time-Dependent Partial Differential Equations", ICLR
        (``divelab/AIRS``, ``OpenPDE/SineNet/pdearena/pdearena/modules/sinenet_dual.py``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        spatial_dims: int = 2,
        hidden_channels: int = 64,
        waves: int = 8,
        levels: int = 4,
        channel_multiplier: float = 1.425,
        blocks_per_level: int = 1,
        disentangle: bool = True,
        wave_residual: bool = True,
        norm_groups: int = 1,
        n_conditioning: int = 0,
        padding: Padding = "circular",
        dtype: jnp.dtype | str = jnp.float32,
        param_dtype: jnp.dtype | str = jnp.float32,
        rngs: nnx.Rngs,
    ):
        sizes = dict(in_channels=in_channels, out_channels=out_channels, waves=waves)
        sizes |= dict(hidden_channels=hidden_channels, levels=levels, norm_groups=norm_groups)
        sizes |= dict(blocks_per_level=blocks_per_level, n_conditioning=n_conditioning)
        check_sizes(channel_multiplier=channel_multiplier, spatial_dims=spatial_dims, **sizes)
        self.in_channels, self.spatial_dims, self.levels = in_channels, spatial_dims, levels
        self.n_conditioning, self.disentangle = n_conditioning, disentangle
        self.wave_residual, self.periodic = wave_residual, padding == "circular"
        self.dtype = jnp.dtype(dtype)
        kw = dict(dtype=self.dtype, param_dtype=jnp.dtype(param_dtype), rngs=rngs)
        embed = 4 * hidden_channels if n_conditioning else 0
        c = sinenet_widths(hidden_channels, channel_multiplier, levels)
        d, n, g = spatial_dims, blocks_per_level, norm_groups

        def stage(c_in, c_res, c_out):
            return Stage(c_in, c_res, c_out, n, d, padding, g, embed, **kw)

        def parallel(level):
            return c[0] if disentangle and level > 0 else 0

        self.embedding = ConditionEmbedding(n_conditioning, embed, **kw) if embed else None
        self.lift = conv(in_channels, hidden_channels, d, 3, padding, **kw)
        self.down = nnx.List(
            [
                nnx.List([stage(c[i] + parallel(i), c[i], c[i + 1]) for i in range(levels)])
                for _ in range(waves)
            ]
        )
        self.up = nnx.List(
            [
                nnx.List([stage(c[i] + c[i + 1], c[i + 1], c[i]) for i in reversed(range(levels))])
                for _ in range(waves)
            ]
        )
        self.project = conv(hidden_channels, out_channels, d, 3, padding, **kw)

    def wave(self, down: nnx.List, up: nnx.List, x: Array, e: Array | None) -> Array:
        """One U-shaped wave ``W_k(x)``, same shape as ``x``."""
        skips, h, parallel = [x], x, x
        for level, stage in enumerate(down):
            h = avg_pool2(h)
            inputs = h
            if self.disentangle:
                parallel = avg_pool2(parallel)
                if level > 0:
                    inputs = jnp.concatenate([h, parallel], axis=-1)
            h = stage(inputs, h, e)
            skips.append(h)
        g = skips.pop()
        for stage in up:
            upsampled = bicubic_upsample2(g, periodic=self.periodic)
            g = stage(jnp.concatenate([skips.pop(), upsampled], axis=-1), upsampled, e)
        return g

    def __call__(
        self,
        u: Float[Array, "batch *space channel"],
        conditioning: Float[Array, "batch parameter"] | None = None,
    ) -> Float[Array, "batch *space out"]:
        """Map ``u`` of shape ``(batch, *space, in_channels)`` to ``(batch, *space, out)``."""
        check_inputs(
            "SineNet",
            u,
            conditioning,
            spatial_dims=self.spatial_dims,
            in_channels=self.in_channels,
            n_conditioning=self.n_conditioning,
            halvings=self.levels,
        )
        e = None if self.embedding is None else self.embedding(conditioning.astype(self.dtype))
        x = self.lift(u.astype(self.dtype))
        for down, up in zip(self.down, self.up, strict=True):
            w = self.wave(down, up, x, e)
            x = x + w if self.wave_residual else w
        return self.project(x).astype(jnp.promote_types(self.dtype, jnp.float32))


def reference_configs() -> dict[str, SineNetConfig]:
    """SineNet-8 for PDEArena's 2D incompressible Navier–Stokes, as in Zhang et al. (2024).

    Inputs are 4 history steps of a scalar and a 2-vector (12 channels), outputs one step
    (3 channels); widths 64 → 91 → 129 → 185 → 263. The reference code's registry
    (``pdearena/models/registry.py``, ``sinenet8-dual``) records 35,490,219 parameters;
    padding does not change the count.
    """
    base = SineNetConfig(in_channels=12, out_channels=3, padding="zeros")
    return {"sinenet-8": base, "sinenet-8-circ": dataclasses.replace(base, padding="circular")}
