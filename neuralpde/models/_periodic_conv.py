"""Convolutions on periodic grids, written so that XLA's CPU backend runs them fast.

Two exact rewrites of what ``nnx.Conv`` and ``nnx.ConvTranspose`` compute with
``padding="CIRCULAR"``, with the same parameters (names, shapes and initial values):

* :class:`PeriodicConv`: the gradient of a convolution of a wrapped input is, by autodiff, a
  convolution followed by slices that add the wrapped borders back, and for stride 2 a
  convolution over an input dilated by the stride (the slow path of XLA:CPU). Here the
  gradient is given directly (``custom_vjp``): the input gradient is the same periodic
  convolution of the output gradient with the flipped, transposed kernel, and both gradients
  of a stride-2 convolution are those of the stride-1 convolution at an output gradient with
  zeros between its points.
* :class:`PeriodicUpsample`: the 4^d transposed convolution of stride 2 is, per output phase
  ``a ∈ {0, 1}^d``, a 2^d convolution of the coarse input; all phases together are one 3^d
  periodic convolution to ``2^d · c_out`` channels (taps outside a phase are zero) followed by
  a depth-to-space reshape, instead of a convolution over an input dilated by 2.

Measured on the train step of a 2.9M-parameter U-Net at 64² (``benchmarks/conv_train_step.py``).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from flax.nnx.nn.dtypes import promote_dtype
from jax import lax

from neuralpde._typing import Array, Float

_DIMENSIONS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC"),
               3: ("NDHWC", "DHWIO", "NDHWC")}


def _wrap(x: Array, low: int, high: int) -> Array:
    """Pad every spatial axis of a channels-last ``x`` periodically by ``(low, high)``."""
    return jnp.pad(x, [(0, 0)] + [(low, high)] * (x.ndim - 2) + [(0, 0)], mode="wrap")


def _valid(x: Array, kernel: Array, stride: int = 1) -> Array:
    n_dims = x.ndim - 2
    return lax.conv_general_dilated(x, kernel, (stride,) * n_dims, "VALID",
                                    dimension_numbers=_DIMENSIONS[n_dims])


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def periodic_conv(
    x: Float[Array, "batch *space c_in"], kernel: Float[Array, "*window c_in c_out"], stride: int
) -> Float[Array, "batch *coarse c_out"]:
    """``y_p = Σ_t x_{(s·p + t − ⌊(k−1)/2⌋) mod n} W_t``: ``nnx.Conv`` with circular padding.

    Args:
        x: the field, channels last; every spatial size a multiple of ``stride``.
        kernel: ``(k, …, k, c_in, c_out)``.
        stride: 1 or 2.

    Returns:
        ``(batch, *space / stride, c_out)``.
    """
    k = kernel.shape[0]
    return _valid(_wrap(x, (k - 1) // 2, k // 2), kernel, stride)


def _periodic_conv_forward(x, kernel, stride):
    return periodic_conv(x, kernel, stride), (x, kernel)


def _periodic_conv_backward(stride, residuals, g):
    x, kernel = residuals
    k = kernel.shape[0]
    if stride > 1:  # the stride-1 output gradient: g at every stride-th point, zeros between
        space = [(0, n - 1 - (m - 1) * stride, stride - 1)
                 for n, m in zip(x.shape[1:-1], g.shape[1:-1], strict=True)]
        g = lax.pad(g, jnp.zeros((), g.dtype), [(0, 0, 0), *space, (0, 0, 0)])
    n_dims = x.ndim - 2
    flipped = jnp.flip(kernel, tuple(range(n_dims))).swapaxes(-1, -2)
    dx = _valid(_wrap(g, k // 2, (k - 1) // 2), flipped)
    _, pullback = jax.vjp(lambda w: _valid(_wrap(x, (k - 1) // 2, k // 2), w), kernel)
    return dx, pullback(g)[0]


periodic_conv.defvjp(_periodic_conv_forward, _periodic_conv_backward)


class PeriodicConv(nnx.Module):
    """``nnx.Conv(c_in, c_out, (k,)*d, strides=stride, padding="CIRCULAR")``, same parameters
    (``kernel`` ``(k, …, k, c_in, c_out)`` and ``bias`` ``(c_out,)``, drawn alike), computed
    by :func:`periodic_conv`.

    Args:
        in_channels, out_channels, n_dims, kernel, stride: as for ``nnx.Conv``.
        dtype: the compute dtype (inputs and parameters are cast to it); param_dtype, rngs:
            as for ``nnx.Conv``.
    """

    def __init__(self, in_channels: int, out_channels: int, n_dims: int, kernel: int,
                 stride: int = 1, *, dtype=None, **kw):
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        reference = nnx.Conv(in_channels, out_channels, (kernel,) * n_dims, **kw)
        self.kernel, self.bias = reference.kernel, reference.bias
        self.stride, self.dtype = stride, dtype

    def __call__(self, x: Float[Array, "batch *space c_in"]) -> Float[Array, "batch *coarse c_out"]:
        x, kernel, bias = promote_dtype(
            (x, self.kernel[...], self.bias[...]), dtype=self.dtype)
        return periodic_conv(x, kernel, self.stride) + bias


# Per axis, output phase a (rows) takes the 3-point window offsets −1, 0, +1 (columns) with
# these taps of the 4-point transposed-conv kernel; 4 marks a zero tap:
# y_{2m} = x_{m−1} W_0 + x_m W_2,  y_{2m+1} = x_m W_1 + x_{m+1} W_3.
_PHASE_TAPS = np.array([[0, 2, 4], [4, 1, 3]])


def phase_kernel(kernel: Float[Array, "*window c_in c_out"]) -> Array:
    """The ``(3, …, 3, c_in, 2^d · c_out)`` kernel of all output phases of a 4^d, stride-2
    transposed convolution (output channels ordered ``(a_1, …, a_d, c_out)``)."""
    n_dims = kernel.ndim - 2
    zero_tap = jnp.pad(kernel, [(0, 1)] * n_dims + [(0, 0), (0, 0)])
    # taps[axis] has shape (3,)*d + (2,)*d: window offset u_i and phase a_i of every axis.
    shape = (3,) * n_dims + (2,) * n_dims
    taps = [np.broadcast_to(
        _PHASE_TAPS.T.reshape([3 if j == i else 1 for j in range(n_dims)]
                              + [2 if j == i else 1 for j in range(n_dims)]), shape)
        for i in range(n_dims)]
    phases = zero_tap[tuple(taps)]  # (3,)*d + (2,)*d + (c_in, c_out)
    order = [*range(n_dims), 2 * n_dims, *range(n_dims, 2 * n_dims), 2 * n_dims + 1]
    c_in, c_out = kernel.shape[-2:]
    return phases.transpose(order).reshape((3,) * n_dims + (c_in, 2**n_dims * c_out))


class PeriodicUpsample(nnx.Module):
    """``nnx.ConvTranspose(c_in, c_out, (4,)*d, 2, padding="CIRCULAR")`` (flax's periodic
    transposed convolution, ``transpose_kernel=False``), same parameters, computed as one
    3^d periodic convolution to all ``2^d`` output phases and a depth-to-space reshape.

    Args:
        in_channels, out_channels, n_dims: as for ``nnx.ConvTranspose``.
        dtype: the compute dtype; param_dtype, rngs: as for ``nnx.ConvTranspose``.
    """

    def __init__(self, in_channels: int, out_channels: int, n_dims: int, *, dtype=None, **kw):
        reference = nnx.ConvTranspose(in_channels, out_channels, (4,) * n_dims, 2, **kw)
        self.kernel, self.bias = reference.kernel, reference.bias
        self.dtype = dtype

    def __call__(self, x: Float[Array, "batch *space c_in"]) -> Float[Array, "batch *fine c_out"]:
        x, kernel, bias = promote_dtype(
            (x, self.kernel[...], self.bias[...]), dtype=self.dtype)
        batch, *space, _ = x.shape
        n_dims, c_out = len(space), kernel.shape[-1]
        y = periodic_conv(x, phase_kernel(kernel), 1)
        y = y.reshape(batch, *space, *(2,) * n_dims, c_out)
        # (batch, n_1 … n_d, a_1 … a_d, c) -> (batch, n_1, a_1, …, n_d, a_d, c)
        order = [0, *(i for axis in range(n_dims) for i in (1 + axis, 1 + n_dims + axis)),
                 1 + 2 * n_dims]
        return y.transpose(order).reshape(batch, *(2 * n for n in space), c_out) + bias
