"""Factorized (axial) kernel attention of FactFormer, chained or parallel over the spatial axes."""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from neuralpde._typing import Array, Float

Rotary = Literal["periodic", "reference", "none"]
ROTARY_MODES: tuple[str, ...] = ("periodic", "reference", "none")


def rotary_wavenumbers(width: int, rotary: Rotary) -> np.ndarray:
    """Wavenumbers ``κ_m`` (cycles per domain) of the rotary encoding, ``m = 0 … width/2 − 1``.

    The reference rotates channel pair ``m`` at ``x ∈ [0, 2π]`` by ``64 · 10000^(−2m/width) · x``,
    that is ``κ_m = 64 · 10000^(−2m/width)`` cycles per domain. ``"periodic"`` rounds ``κ_m`` to
    the nearest integer, so that the kernel is periodic and a circular shift is an exact symmetry.
    """
    if rotary not in ROTARY_MODES or width % 2:
        raise ValueError(f"rotary must be one of {ROTARY_MODES} with even {width=}, got {rotary!r}")
    kappa = 64.0 * 10000.0 ** (-np.arange(0, width, 2) / width)
    return np.round(kappa) if rotary == "periodic" else kappa


def apply_rotary(
    t: Float[Array, "batch n head width"], angles: Float[Array, "n half"]
) -> Float[Array, "batch n head width"]:
    """Rotate each pair ``(t_m, t_{m + width/2})`` by ``angles[:, m]`` (rotate-half convention)."""
    half = t.shape[-1] // 2
    cos = jnp.cos(angles)[:, None, :].astype(t.dtype)
    sin = jnp.sin(angles)[:, None, :].astype(t.dtype)
    t1, t2 = t[..., :half], t[..., half:]
    return jnp.concatenate([t1 * cos - t2 * sin, t2 * cos + t1 * sin], axis=-1)


def apply_axis(
    kernel: Float[Array, "batch head n n"], v: Float[Array, "batch *space head c"], axis: int
) -> Float[Array, "batch *space head c"]:
    """``Σ_j K[i, j] v[…, j, …]`` along spatial ``axis``: the 1D kernel integral on that axis."""
    moved = jnp.moveaxis(v, 1 + axis, -3)
    return jnp.moveaxis(jnp.einsum("bhij,b...jhc->b...ihc", kernel, moved), -3, 1 + axis)


class FactorizedAttention(nnx.Module):
    """Axial factorized kernel attention (FactFormer's ``FABlock``), dimension-generic::

        h = LayerNorm(u),   v = W_v h                                       values, per head
        φ_a = MLP_a(LN(P_a W_in mean_{axes ≠ a} h))                        1D axial feature, axis a
        q_a, k_a = RoPE(W_q^a φ_a), RoPE(W_k^a φ_a)
        K_a[i, j] = s · q_a(i) · k_a(j)                                   no softmax, no 1/n
        z = K_1 ⊗ K_2 ⊗ … ⊗ K_d v      (chained: one axis after the other)
        z = [K_1 ∘₁ v, …, K_d ∘_d v]   (parallel, IFactFormer-m: each axis on the same v)
        y = W_2 σ(W_1 InstanceNorm(z))

    The pooling ``W_in``, ``P_a`` is linear, so it is applied after the mean (the reference
    applies it before; the result is the same). ``MLP_a`` is the reference's GeGLU MLP
    ``dim → 2 dim → (GELU ⊙) → latent``. ``s = 1`` for ``kernel_multiplier ≤ 4`` and
    ``1/√width`` above, as in the reference; its missing ``1/n`` quadrature weight is a constant
    the instance norm removes (up to its ε). Cost: ``O(N · Σ_a n_a)`` for ``N`` points, not
    ``O(N²)``.

    Args:
        dim: channels in; spatial_dims: number of spatial axes ``d``.
        heads, dim_head: attention heads and value channels per head.
        kernel_multiplier: query/key width per head is ``width = dim_head · kernel_multiplier``.
        latent_dim: channels of the axial features (default ``dim``).
        dim_out: channels out (default ``dim``).
        parallel: IFactFormer-m's parallel axes (outputs concatenated) instead of the chain.
        rotary: ``"periodic"`` (integer wavenumbers, translation-equivariant on a periodic
            grid), ``"reference"`` (the reference's wavenumbers) or ``"none"``.
        dtype: activation dtype; param_dtype: parameter dtype; rngs: draws the weights.

    Reference:
        Li, Shu, Barati Farimani (2023), "Scalable Transformer for PDE Surrogate Modeling",
        NeurIPS; code ``BaratiLab/FactFormer`` (``libs/factorization_module.py``). Parallel
        variant: Yang, Wang, Wang (2025), "Implicit factorized transformer approach to fast
        prediction of turbulent channel flows", Sci. China Phys. Mech. Astron.
    """

    def __init__(
        self,
        dim: int,
        spatial_dims: int,
        *,
        heads: int,
        dim_head: int,
        kernel_multiplier: int = 2,
        latent_dim: int | None = None,
        dim_out: int | None = None,
        parallel: bool = False,
        rotary: Rotary = "periodic",
        dtype: jnp.dtype | str = jnp.float32,
        param_dtype: jnp.dtype | str = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if min(dim, spatial_dims, heads, dim_head, kernel_multiplier) < 1:
            raise ValueError(
                f"FactorizedAttention needs positive sizes, got {dim=} {spatial_dims=} {heads=} "
                f"{dim_head=} {kernel_multiplier=}"
            )
        latent_dim = dim if latent_dim is None else latent_dim
        dim_out = dim if dim_out is None else dim_out
        width = dim_head * kernel_multiplier
        # A tuple, not an array: module attributes that are not Variables must be hashable.
        self.wavenumbers = (
            tuple(float(k) for k in rotary_wavenumbers(width, rotary)) if rotary != "none" else None
        )
        self.spatial_dims = spatial_dims
        self.heads = heads
        self.dim_head = dim_head
        self.parallel = parallel
        self.scaling = 1 / np.sqrt(width) if kernel_multiplier > 4 else 1.0
        self.dtype = jnp.dtype(dtype)
        kw = dict(dtype=self.dtype, param_dtype=jnp.dtype(param_dtype), rngs=rngs)
        # The reference's q/k init: Xavier-uniform with gain 0.02, so that K starts small.
        qk_init = jax.nn.initializers.variance_scaling(0.02**2, "fan_avg", "uniform")
        self.in_norm = nnx.LayerNorm(dim, epsilon=1e-5, **kw)
        self.to_v = nnx.Linear(dim, heads * dim_head, use_bias=False, **kw)
        self.to_in = nnx.Linear(dim, dim, use_bias=False, **kw)
        axes = range(spatial_dims)
        self.pool_in = nnx.List([nnx.Linear(dim, dim, use_bias=False, **kw) for _ in axes])
        self.pool_norm = nnx.List([nnx.LayerNorm(dim, epsilon=1e-5, **kw) for _ in axes])
        self.pool_gate = nnx.List([nnx.Linear(dim, 2 * dim, **kw) for _ in axes])
        self.pool_out = nnx.List([nnx.Linear(dim, latent_dim, **kw) for _ in axes])
        self.to_q = nnx.List(
            [
                nnx.Linear(latent_dim, heads * width, use_bias=False, kernel_init=qk_init, **kw)
                for _ in axes
            ]
        )
        self.to_k = nnx.List(
            [
                nnx.Linear(latent_dim, heads * width, use_bias=False, kernel_init=qk_init, **kw)
                for _ in axes
            ]
        )
        mixed = heads * dim_head * (spatial_dims if parallel else 1)
        self.out_norm = nnx.InstanceNorm(
            mixed, epsilon=1e-5, use_bias=False, use_scale=False, use_fast_variance=False, **kw
        )
        self.out_hidden = nnx.Linear(mixed, dim_out, use_bias=False, **kw)
        self.out = nnx.Linear(dim_out, dim_out, use_bias=False, **kw)

    def axial_kernels(
        self, h: Float[Array, "batch *space dim"]
    ) -> list[Float[Array, "batch head n n"]]:
        """The kernels ``K_a``, one ``(batch, heads, n_a, n_a)`` per axis, of normalised ``h``."""
        d = self.spatial_dims
        kernels = []
        for a in range(d):
            pooled = jnp.mean(h, axis=tuple(1 + b for b in range(d) if b != a))
            g = self.pool_gate[a](self.pool_norm[a](self.pool_in[a](self.to_in(pooled))))
            half = g.shape[-1] // 2
            phi = self.pool_out[a](jax.nn.gelu(g[..., :half], approximate=False) * g[..., half:])
            q = self.to_q[a](phi).reshape(*phi.shape[:2], self.heads, -1)
            k = self.to_k[a](phi).reshape(*phi.shape[:2], self.heads, -1)
            if self.wavenumbers is not None:
                n = h.shape[1 + a]
                x = jnp.arange(n, dtype=jnp.promote_types(self.dtype, jnp.float32)) / n
                angles = 2 * jnp.pi * x[:, None] * jnp.asarray(self.wavenumbers, x.dtype)
                q, k = apply_rotary(q, angles), apply_rotary(k, angles)
            kernels.append(jnp.einsum("bihc,bjhc->bhij", q, k) * self.scaling)
        return kernels

    def values(self, h: Float[Array, "batch *space dim"]) -> Float[Array, "batch *space head c"]:
        """The values ``W_v h``, split into heads."""
        v = self.to_v(h)
        return v.reshape(*v.shape[:-1], self.heads, self.dim_head)

    def contract(
        self, kernels: list[Float[Array, "batch head n n"]], v: Float[Array, "batch *space head c"]
    ) -> Float[Array, "batch *space mixed"]:
        """The factorized kernel integral: chained ``(⊗_a K_a) v`` or parallel ``[K_a ∘_a v]_a``."""
        if self.parallel:
            z = jnp.stack([apply_axis(k, v, a) for a, k in enumerate(kernels)], axis=-2)
        else:
            z = v
            for a, k in enumerate(kernels):
                z = apply_axis(k, z, a)
        return z.reshape(*z.shape[: 1 + self.spatial_dims], -1)

    def output(self, z: Float[Array, "batch *space mixed"]) -> Float[Array, "batch *space out"]:
        """``W_2 σ(W_1 InstanceNorm(z))``, the instance norm over space per sample and channel."""
        h = self.out_hidden(self.out_norm(z))
        return self.out(jax.nn.gelu(h, approximate=False))

    def __call__(self, u: Float[Array, "batch *space dim"]) -> Float[Array, "batch *space out"]:
        """The attention update of ``u`` (no residual; the caller adds it)."""
        if u.ndim != self.spatial_dims + 2:
            raise ValueError(
                f"FactorizedAttention over {self.spatial_dims} axes expects (batch, "
                f"{self.spatial_dims} spatial axes, channel), got shape {tuple(u.shape)}"
            )
        h = self.in_norm(u)
        return self.output(self.contract(self.axial_kernels(h), self.values(h)))
