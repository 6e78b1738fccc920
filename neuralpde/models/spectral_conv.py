"""Spectral convolution over retained Fourier modes, channels-last and dimension-generic."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax

from neuralpde._typing import Array, Float
from neuralpde.models._truncated_dft import kept_shape, truncated_irfft, truncated_rfft

__all__ = ["SpectralConv", "check_modes", "kept_shape"]


def check_modes(modes: Sequence[int]) -> tuple[int, ...]:
    """``modes`` as a tuple of positive ints, one per spatial dimension, or a ``ValueError``."""
    if not isinstance(modes, Sequence):
        raise ValueError(f"modes must be a tuple with one int per spatial dimension, got {modes!r}")
    modes = tuple(modes)
    if not modes or any(not isinstance(m, Integral) or isinstance(m, bool) or m < 1 for m in modes):
        raise ValueError(f"modes must be a non-empty tuple of positive ints, got {modes!r}")
    return tuple(int(m) for m in modes)


class SpectralConv(nnx.Module):
    """Fourier-space convolution with a learned multiplier on the lowest modes (Li et al. 2021)::

        (K u)(x) = F⁻¹[ R(k) · (F u)(k) ](x),   R(k) ∈ ℂ^{in×out} for retained k, 0 otherwise.

    Along every spatial axis but the last, the modes ``0 … m−1`` and ``−m … −1`` are retained;
    along the last axis (the half-spectrum of the real FFT) the modes ``0 … m−1``. Inputs are
    channels-last. The truncated transforms are dense products with twiddle matrices, one axis
    at a time (:mod:`neuralpde.models._truncated_dft`; faster than FFTs on CPU when ``m ≪ n``),
    and two real einsums ``'bp...i,...io->bp...o'`` with ``Re R`` and ``Im R`` multiply all
    retained modes at once.

    The forward transform is unnormalised and the inverse scaled by ``1/N`` (NumPy's
    convention), so the layer is discretisation-invariant: on a band-limited input it commutes
    with spectral interpolation to a finer grid. The transforms run in ``float32`` (or
    ``float64``) whatever the compute dtype; the result is cast back to the input dtype.

    Weights are stored as real and imaginary ``Param`` s of shape ``(*kept, in, out)`` with
    ``kept`` from :func:`kept_shape`, drawn from ``N(0, s²)`` with ``s = 1/(in · out)``
    (pdequinox's draw; Li et al.'s code uses the same scale times ``U[0, 1)``).

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        modes: retained modes per spatial dimension; the input needs ``n ≥ 2m`` points per axis.
        param_dtype: dtype of the real and imaginary weights.
        rngs: the ``params`` stream draws the weights.

    Reference:
        Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart, Anandkumar (2021),
        "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        *,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channels must be positive, got {in_channels=} {out_channels=}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modes = check_modes(modes)
        shape = (*kept_shape(self.modes), in_channels, out_channels)
        scale = 1.0 / (in_channels * out_channels)
        real, imag = scale * jax.random.normal(rngs.params(), (2, *shape), param_dtype)
        self.weight_real = nnx.Param(real)
        self.weight_imag = nnx.Param(imag)

    def check_input(self, x: Array) -> None:
        """Raise a ``ValueError`` naming expected and actual shapes if ``x`` does not fit."""
        d = len(self.modes)
        minimum = tuple(2 * m for m in self.modes)
        expected = f"(batch, {', '.join(f'≥{n}' for n in minimum)}, {self.in_channels})"
        if (
            x.ndim != d + 2
            or x.shape[-1] != self.in_channels
            or any(n < lo for n, lo in zip(x.shape[1:-1], minimum, strict=True))
        ):
            raise ValueError(
                f"{type(self).__name__} with modes={self.modes} expects input of shape {expected} "
                f"(batch, {d} spatial axes with at least 2·modes points, channels), "
                f"got {tuple(x.shape)}"
            )

    def __call__(self, x: Float[Array, "batch *space channel"]) -> Float[Array, "batch *space out"]:
        """Apply the layer to ``x`` of shape ``(batch, *space, in_channels)``."""
        self.check_input(x)
        dtype = jnp.promote_types(x.dtype, jnp.float32)
        xf = truncated_rfft(x.astype(dtype), self.modes)
        real, imag = (w[...].astype(dtype) for w in (self.weight_real, self.weight_imag))
        by_real, by_imag = (
            jnp.einsum("bp...i,...io->bp...o", xf, w, precision=lax.Precision.HIGHEST)
            for w in (real, imag)
        )
        # (a + ib)(c + id) = (ac − bd) + i(ad + bc), with a, b the pair on axis 1.
        yf = jnp.stack([by_real[:, 0] - by_imag[:, 1], by_imag[:, 0] + by_real[:, 1]], axis=1)
        return truncated_irfft(yf, self.modes, x.shape[1:-1]).astype(x.dtype)
