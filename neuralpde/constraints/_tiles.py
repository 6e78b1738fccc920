"""Cutting a grid into equal contiguous tiles (the subdomains of the local constraints) and back."""

from __future__ import annotations

import math
from collections.abc import Callable

import jax

from neuralpde._typing import Array, Float


def check_tiling(experts: tuple[int, ...], residual: Callable, prediction: Array) -> None:
    """Raise ``ValueError``, naming the shapes, unless ``experts`` tiles ``prediction``'s grid
    and ``residual`` returns one value per cell."""
    shape = tuple(prediction.shape)
    if len(shape) != len(experts):
        raise ValueError(f"experts {experts} count tiles on {len(experts)} axes, but the "
                         f"prediction's shape {shape} has {len(shape)} (unbatched: vmap outside)")
    if any(n % k for n, k in zip(shape, experts, strict=True)):
        raise ValueError(f"experts {experts} must divide the prediction's shape {shape} axis by "
                         f"axis")
    out = jax.eval_shape(residual, prediction)
    if out.shape != shape:
        raise ValueError(f"the residual maps a field of shape {shape} to shape {out.shape}; it "
                         f"must return one value per cell")


def tiles(u: Float[Array, "*space"], experts: tuple[int, ...]) -> Float[Array, "expert n"]:
    """``u`` as one row per tile, ``(K, n_k)``, ``experts`` tiles per axis, tiles and their cells
    in row-major order."""
    sizes = [n // k for n, k in zip(u.shape, experts, strict=True)]
    split = u.reshape([d for pair in zip(experts, sizes, strict=True) for d in pair])
    order = [*range(0, 2 * u.ndim, 2), *range(1, 2 * u.ndim, 2)]
    return split.transpose(order).reshape(math.prod(experts), math.prod(sizes))


def untile(x: Float[Array, "expert n"], experts: tuple[int, ...],
           shape: tuple[int, ...]) -> Float[Array, "*space"]:
    """The inverse of :func:`tiles` for a grid of ``shape``."""
    sizes = [n // k for n, k in zip(shape, experts, strict=True)]
    split = x.reshape(*experts, *sizes)
    order = [i for d in range(len(shape)) for i in (d, len(shape) + d)]
    return split.transpose(order).reshape(shape)
