"""FactFormer (factorized transformer), its config and its reference configuration."""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from neuralpde._typing import Array, Float
from neuralpde.config import ConfigError
from neuralpde.models.factorized_attention import ROTARY_MODES, FactorizedAttention, Rotary
from neuralpde.models.film import FiLM, check_conditioning, modulate
from neuralpde.models.fourier_features import FourierGridEncoding


def size_errors(
    *,
    dim: int,
    heads: int,
    dim_head: int,
    kernel_multiplier: int,
    rotary: str,
    dim_multiple: int = 8,
    **positive: int,
) -> list[str]:
    """What is wrong with these transformer sizes (empty if nothing): shared by config and model.

    ``dim`` must be a multiple of ``dim_multiple`` (8 for FactFormer's grouped output layer).
    """
    sizes = dict(dim=dim, heads=heads, dim_head=dim_head, kernel_multiplier=kernel_multiplier)
    errors = [f"{k} must be ≥ 1, got {v}" for k, v in (sizes | positive).items() if v < 1]
    if dim % dim_multiple:
        errors.append(f"dim must be a multiple of {dim_multiple}, got {dim}")
    if rotary not in ROTARY_MODES:
        errors.append(f"rotary must be one of {ROTARY_MODES}, got {rotary!r}")
    elif rotary != "none" and (dim_head * kernel_multiplier) % 2:
        errors.append("rotary encoding needs an even dim_head · kernel_multiplier")
    return errors


def check_inputs(model: nnx.Module, u: Array, conditioning: Array | None) -> None:
    """Raise a ``ValueError`` naming expected and actual shapes if the inputs do not fit."""
    d, name = model.spatial_dims, type(model).__name__
    if u.ndim != d + 2 or u.shape[-1] != model.in_channels or min(u.shape[1:-1]) < 2:
        raise ValueError(
            f"{name} with spatial_dims={d} and in_channels={model.in_channels} expects input of "
            f"shape (batch, {', '.join(['≥2'] * d)}, {model.in_channels}), got {tuple(u.shape)}"
        )
    check_conditioning(name, u.shape[0], model.n_conditioning, conditioning)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FactFormerConfig:
    """Hyper-parameters of :class:`FactFormer` (see there); ``dtype`` is the activation dtype."""

    kind: Literal["factformer"] = "factformer"
    in_channels: int
    out_channels: int
    spatial_dims: int
    dim: int = 128
    depth: int = 4
    heads: int = 8
    dim_head: int = 64
    kernel_multiplier: int = 2
    latent_multiplier: int = 2
    rotary: Rotary = "periodic"
    use_grid: bool = True
    n_conditioning: int = 0
    dtype: Literal["float32", "bfloat16"] = "float32"

    def __post_init__(self):
        positive = ("in_channels", "out_channels", "spatial_dims", "depth", "latent_multiplier")
        errors = size_errors(
            dim=self.dim, heads=self.heads, dim_head=self.dim_head, rotary=self.rotary,
            kernel_multiplier=self.kernel_multiplier, **{k: getattr(self, k) for k in positive},
        )  # fmt: skip
        if self.n_conditioning < 0:
            errors.append(f"n_conditioning must be ≥ 0, got {self.n_conditioning}")
        if errors:
            raise ConfigError(f"FactFormerConfig: {'; '.join(errors)}")


def reference_configs() -> dict[str, FactFormerConfig]:
    """Published FactFormer settings, by name.

    ``"kolmogorov2d"``: ``BaratiLab/FactFormer`` ``configs/ns2d_fact_lm.yml`` for 2D Kolmogorov
    flow (Re = 1000, 128² grid): a history of 10 vorticity frames in, the next frame out.
    """
    return {
        "kolmogorov2d": FactFormerConfig(
            in_channels=10, out_channels=1, spatial_dims=2, dim=128, depth=4, heads=8,
            dim_head=64, kernel_multiplier=2, latent_multiplier=2, use_grid=True,
        ),
    }  # fmt: skip


class FactFormer(nnx.Module):
    """Factorized Transformer of Li, Shu and Barati Farimani (2023), channels-last::

        h₀ = W_in u + b                                          lifting, pointwise
        h_{l+1} = h_l' + FiLM_l(A_l(h_l')),  h_l' = h_l + E_l(x)    l = 0 … depth−1
        z = W_e h_L + b_e,   z ← z + MLP(LN(z))                  latent propagator (one step)
        y = Q₃ σ(Q₂ σ(G GroupNorm(z)))                           projection, G grouped (8 groups)

    ``A_l`` is a pre-norm :class:`FactorizedAttention` (chained over the axes) whose output
    MLP is the block's MLP, as in the reference ``FABlock``; ``E_l`` the optional
    :class:`FourierGridEncoding` of the reference (``use_grid``), which breaks translation
    equivariance; ``FiLM_l`` the optional ``(1 + γ_l) ⊙ · + β_l`` of the conditioning. The
    head is the reference's latent-marching head for a single step: its step embedding is the
    bias ``b_e``. The latent has ``latent_multiplier · dim`` channels.

    Args:
        in_channels, out_channels: channels of the input and output fields.
        spatial_dims: number of spatial axes (any grid size, ≥ 2 points per axis).
        dim, depth: hidden channels and number of attention blocks.
        heads, dim_head, kernel_multiplier, rotary: see :class:`FactorizedAttention`.
        latent_multiplier: latent channels over ``dim`` in the head.
        use_grid: add the absolute grid encoding before every block.
        n_conditioning: number of scalar parameters for FiLM; ``0`` disables conditioning.
        dtype: activation dtype; param_dtype: dtype of all parameters.
        rngs: the ``params`` stream draws the weights and the fixed Fourier bases.

    Returns from ``__call__``: ``(batch, *space, out_channels)`` in ``promote(dtype, float32)``.

    Reference:
        Li, Shu, Barati Farimani (2023), "Scalable Transformer for PDE Surrogate Modeling",
        NeurIPS; code ``BaratiLab/FactFormer`` (``examples/turb_ns2d_fact_lm.py``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        spatial_dims: int,
        *,
        dim: int = 128,
        depth: int = 4,
        heads: int = 8,
        dim_head: int = 64,
        kernel_multiplier: int = 2,
        latent_multiplier: int = 2,
        rotary: Rotary = "periodic",
        use_grid: bool = True,
        n_conditioning: int = 0,
        dtype: jnp.dtype | str = jnp.float32,
        param_dtype: jnp.dtype | str = jnp.float32,
        rngs: nnx.Rngs,
    ):
        errors = size_errors(
            dim=dim, heads=heads, dim_head=dim_head, kernel_multiplier=kernel_multiplier,
            rotary=rotary, in_channels=in_channels, out_channels=out_channels,
            spatial_dims=spatial_dims, depth=depth, latent_multiplier=latent_multiplier,
        )  # fmt: skip
        if errors or n_conditioning < 0:
            raise ValueError(f"FactFormer: {'; '.join(errors) or f'{n_conditioning=} < 0'}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.spatial_dims = spatial_dims
        self.n_conditioning = n_conditioning
        self.dtype = jnp.dtype(dtype)
        kw = dict(dtype=self.dtype, param_dtype=jnp.dtype(param_dtype), rngs=rngs)
        latent = latent_multiplier * dim
        self.lifting = nnx.Linear(in_channels, dim, **kw)
        self.grid = (
            nnx.List([FourierGridEncoding(spatial_dims, dim, **kw) for _ in range(depth)])
            if use_grid
            else None
        )
        self.blocks = nnx.List(
            [
                FactorizedAttention(
                    dim, spatial_dims, heads=heads, dim_head=dim_head,
                    kernel_multiplier=kernel_multiplier, rotary=rotary, **kw,
                )
                for _ in range(depth)
            ]
        )  # fmt: skip
        self.film = FiLM(n_conditioning, dim, depth, **kw) if n_conditioning else None
        self.expand = nnx.Linear(dim, latent, **kw)
        self.propagator_norm = nnx.LayerNorm(latent, epsilon=1e-5, **kw)
        self.propagator_hidden = nnx.Linear(latent, dim, **kw)
        self.propagator_out = nnx.Linear(dim, latent, **kw)
        self.out_norm = nnx.GroupNorm(latent, num_groups=8 * latent_multiplier, epsilon=1e-5, **kw)
        self.out_grouped = nnx.Conv(
            latent, dim, (1,) * spatial_dims, feature_group_count=8, use_bias=False, **kw
        )
        self.out_hidden = nnx.Linear(dim, dim // 2, use_bias=False, **kw)
        self.out = nnx.Linear(dim // 2, out_channels, **kw)

    def __call__(
        self,
        u: Float[Array, "batch *space channel"],
        conditioning: Float[Array, "batch parameter"] | None = None,
    ) -> Float[Array, "batch *space out"]:
        """Map ``u`` of shape ``(batch, *space, in_channels)`` to ``(batch, *space, out)``."""
        check_inputs(self, u, conditioning)
        gelu = lambda x: jax.nn.gelu(x, approximate=False)  # noqa: E731
        h = self.lifting(u.astype(self.dtype))
        if self.film is not None:
            scale, shift = self.film(conditioning.astype(self.dtype))
        for layer, block in enumerate(self.blocks):
            if self.grid is not None:
                h = h + self.grid[layer](u.shape[1:-1])
            update = block(h)
            if self.film is not None:
                update = modulate(update, scale[layer], shift[layer])
            h = h + update
        z = self.expand(h)
        z = z + self.propagator_out(gelu(self.propagator_hidden(self.propagator_norm(z))))
        y = self.out(gelu(self.out_hidden(gelu(self.out_grouped(self.out_norm(z))))))
        return y.astype(jnp.promote_types(self.dtype, jnp.float32))
