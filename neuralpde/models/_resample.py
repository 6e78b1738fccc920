"""Parameter-free 2× resampling on channels-last grids: average pooling and bicubic upsampling."""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from neuralpde._typing import Array, Float

# Keys' cubic kernel with a = −0.75 (PyTorch's "bicubic") at the distances of the four
# nearest coarse points from the fine point x = i − 1/4 (half-pixel centres, scale 2).
_NEAR_LEFT = (-0.03515625, 0.26171875, 0.87890625, -0.10546875)  # taps i−2, i−1, i, i+1
_NEAR_RIGHT = _NEAR_LEFT[::-1]  # x = i + 1/4: taps i−1, i, i+1, i+2


def avg_pool2(h: Float[Array, "batch *space channel"]) -> Float[Array, "batch *half channel"]:
    """Mean over non-overlapping ``2^d`` cells; every spatial size must be even."""
    batch, *space, channels = h.shape
    cells = [size for n in space for size in (n // 2, 2)]
    return h.reshape(batch, *cells, channels).mean(axis=tuple(range(2, 2 + 2 * len(space), 2)))


def _upsample_axis(h: Array, axis: int, periodic: bool) -> Array:
    n = h.shape[axis]
    pads = [(0, 0)] * h.ndim
    pads[axis] = (2, 2)
    padded = jnp.pad(h, pads, mode="wrap" if periodic else "edge")
    taps = [lax.slice_in_dim(padded, k, k + n, axis=axis) for k in range(5)]
    left = sum(w * t for w, t in zip(_NEAR_LEFT, taps[:4], strict=True))
    right = sum(w * t for w, t in zip(_NEAR_RIGHT, taps[1:], strict=True))
    interleaved = jnp.stack([left, right], axis=axis + 1)
    return interleaved.reshape(*h.shape[:axis], 2 * n, *h.shape[axis + 1 :])


def bicubic_upsample2(
    h: Float[Array, "batch *space channel"], *, periodic: bool
) -> Float[Array, "batch *double channel"]:
    """2× bicubic interpolation per spatial axis, as ``torch.nn.functional.interpolate``.

    Fine point ``j`` sits at coarse coordinate ``j/2 − 1/4`` (``align_corners=False``) and
    takes the four nearest coarse values with Keys' weights (``a = −0.75``), which sum to 1.
    ``periodic`` wraps around the ends (SineNet's circular mode); otherwise the end values are
    repeated, as PyTorch clamps indices.
    """
    for axis in range(1, h.ndim - 1):
        h = _upsample_axis(h, axis, periodic)
    return h
