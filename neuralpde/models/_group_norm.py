"""Group normalisation with per-channel statistics and a written-out gradient, for the conv models.

``y = γ (x − μ_g) r_g + β``, ``r_g = 1/√(σ²_g + ε)``, with the mean ``μ_g`` and biased variance
``σ²_g`` of sample ``b`` over every spatial point and the ``C/G`` channels of group ``g`` (Wu &
He 2018): what ``nnx.GroupNorm`` computes, with the same parameters.

What differs is the cost on XLA's CPU backend (``benchmarks/conv_layers.py``). ``nnx.GroupNorm``
reshapes ``(batch, *space, C)`` to ``(batch, *space, G, C/G)`` and reduces over the spatial
axes and the last one, a reduction whose minor dimension is ``C/G`` (2 in a 16-channel layer)
and which XLA:CPU runs several times slower than PyTorch runs the whole layer. Here:

* The statistics are per-channel sums over the spatial axes (a reduction that keeps the
  contiguous channel axis), combined into groups on the small ``(batch, C)`` arrays. They are
  the sums of ``x − K`` and ``(x − K)²`` with ``K`` one value of the group (its first channel
  at the first grid point), the shifted-data algorithm of Chan, Golub & LeVeque (1983), so that
  a large mean does not cancel the variance away as ``E[x²] − E[x]²`` would.
* The gradient is written out (``custom_vjp``): one pass over ``g`` and ``x`` gives the
  per-sample, per-channel sums ``Σ g`` and ``Σ g x̂`` (``x̂ = (x − μ) r``), hence ``∂β``, ``∂γ``
  and the group means in ``∂x = r (γ g − mean_g(γ g) − x̂ mean_g(γ g x̂))``; one elementwise
  pass writes ``∂x``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from neuralpde._typing import Array, Float


def _accumulation(x: Array) -> jnp.dtype:
    """Statistics in float32 at least (bfloat16 activations accumulate in float32)."""
    return jnp.promote_types(x.dtype, jnp.float32)


def _spatial_sums(*fields: Array) -> list[Array]:
    """``Σ`` over every spatial axis of each ``(batch, *space, c)`` field: ``(batch, c)``."""
    axes = tuple(range(1, fields[0].ndim - 1))
    return [jnp.sum(f, axis=axes) for f in fields]


def _group_matrix(c: int, groups: int, dtype, first_only: bool = False) -> Array:
    """``(c, c)``: entry ``(i, j)`` is 1 where channel ``i`` is in channel ``j``'s group (with
    ``first_only``, where ``i`` is the first channel of that group)."""
    group = np.arange(c) // (c // groups)
    same = group[:, None] == group[None, :]
    if first_only:
        same &= (np.arange(c) % (c // groups) == 0)[:, None]
    return jnp.asarray(same, dtype)


def _group_sum(per_channel: Float[Array, "batch c"], groups: int) -> Float[Array, "batch c"]:
    """Sum over the channels of each group, repeated for every channel of the group.

    A product with a 0/1 matrix rather than a reshape and a broadcast: XLA fuses the latter into
    the elementwise passes that use the result, and their index arithmetic then keeps XLA:CPU
    from vectorising those passes (the GELU after the norm included).
    """
    matrix = _group_matrix(per_channel.shape[-1], groups, per_channel.dtype)
    return jnp.dot(per_channel, matrix, precision=jax.lax.Precision.HIGHEST)


def _group_count(x: Array, groups: int) -> int:
    """Values per group of one sample: every spatial point times ``C/G`` channels."""
    return x.size // x.shape[0] // groups


def _spatial(per_channel: Float[Array, "batch c"], n_space: int) -> Array:
    """``(batch, c)`` → ``(batch, 1, …, 1, c)``, to broadcast against a field."""
    return per_channel.reshape(per_channel.shape[0], *(1,) * n_space, -1)


def _statistics(x: Float[Array, "batch *space c"], groups: int, epsilon: float):
    """``μ`` and ``r = 1/√(σ² + ε)`` of each channel's group, each ``(batch, c)``."""
    n_space = x.ndim - 2
    first = x[(slice(None), *(0,) * n_space)].astype(_accumulation(x))  # (batch, c)
    shift = jnp.dot(first, _group_matrix(x.shape[-1], groups, first.dtype, first_only=True),
                    precision=jax.lax.Precision.HIGHEST)  # (see _group_sum)
    centred = x.astype(shift.dtype) - _spatial(shift, n_space)
    s1, s2 = _spatial_sums(centred, centred * centred)
    count = _group_count(x, groups)
    mean_shifted = _group_sum(s1, groups) / count
    variance = jnp.maximum(_group_sum(s2, groups) / count - mean_shifted**2, 0.0)
    return shift + mean_shifted, jax.lax.rsqrt(variance + epsilon)


@partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def group_norm(
    x: Float[Array, "batch *space c"],
    scale: Float[Array, " c"],
    bias: Float[Array, " c"],
    groups: int,
    epsilon: float,
) -> Float[Array, "batch *space c"]:
    """``γ (x − μ_g) r_g + β``.

    Args:
        x: ``(batch, *space, c)``; statistics in float32 (float64 for float64 ``x``).
        scale, bias: ``γ`` and ``β``, ``(c,)``.
        groups: ``G``, a divisor of ``c``.
        epsilon: ``ε``.

    Returns:
        ``(batch, *space, c)`` in ``x``'s dtype.
    """
    return _group_norm_forward(x, scale, bias, groups, epsilon)[0]


def _group_norm_forward(x, scale, bias, groups, epsilon):
    mean, r = _statistics(x, groups, epsilon)
    n_space = x.ndim - 2
    # x − μ first: x μ-sized and the result O(1) would otherwise round at the scale of μ.
    centred = x - _spatial(mean, n_space).astype(x.dtype)
    y = centred * _spatial(r * scale, n_space).astype(x.dtype) + bias.astype(x.dtype)
    return y, (x, scale, mean, r)


def _group_norm_backward(groups, epsilon, residuals, g):
    x, scale, mean, r = residuals
    n_space = x.ndim - 2
    g_wide = g.astype(mean.dtype)
    centred = x.astype(mean.dtype) - _spatial(mean, n_space)
    sum_g, sum_g_centred = _spatial_sums(g_wide, g_wide * centred)  # (batch, c) each
    sum_g_normalized = r * sum_g_centred  # Σ g x̂
    count = _group_count(x, groups)
    mean_dy = _group_sum(sum_g * scale, groups) / count  # the group mean of γ g
    mean_dy_normalized = _group_sum(sum_g_normalized * scale, groups) / count
    # ∂x = r (γ g − mean_dy − x̂ mean_dy_normalized) = a g + b x + c per (batch, channel).
    a, b_x = r * scale, -r * r * mean_dy_normalized
    c_ = -r * mean_dy - b_x * mean
    dx = (g_wide * _spatial(a, n_space) + x.astype(mean.dtype) * _spatial(b_x, n_space)
          + _spatial(c_, n_space))
    return (dx.astype(x.dtype), sum_g_normalized.sum(0).astype(scale.dtype),
            sum_g.sum(0).astype(scale.dtype))


group_norm.defvjp(_group_norm_forward, _group_norm_backward)


class GroupNorm(nnx.GroupNorm):
    """``nnx.GroupNorm`` over every spatial axis and ``C/G`` channels (the same parameters),
    computed by :func:`group_norm`. Only the default reductions: no mask, no ``axis_name``,
    and both ``scale`` and ``bias``."""

    def __init__(self, num_features: int, *args, **kwargs):
        super().__init__(num_features, *args, **kwargs)
        unsupported = [name for name, default in [("reduction_axes", None), ("axis_name", None),
                                                  ("axis_index_groups", None)]
                       if getattr(self, name) != default]
        unsupported += [name for name in ("use_scale", "use_bias") if not getattr(self, name)]
        if unsupported:
            raise ValueError(f"GroupNorm supports only nnx.GroupNorm's default {unsupported}; "
                             "use nnx.GroupNorm for these options")

    def __call__(self, x: Float[Array, "batch *space c"]) -> Float[Array, "batch *space c"]:
        scale, bias = self.scale[...], self.bias[...]
        x, scale, bias = self.promote_dtype((x, scale, bias), dtype=self.dtype)
        return group_norm(x, scale, bias, self.num_groups, self.epsilon)
