"""Fourier Neural Operator (FNO) and its config."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax

from neuralpde._typing import Array, Float
from neuralpde.config import ConfigError
from neuralpde.models.film import FiLM, check_conditioning, modulate
from neuralpde.models.spectral_conv import SpectralConv, check_modes


@dataclasses.dataclass(frozen=True, kw_only=True)
class FNOConfig:
    """Hyper-parameters of :class:`FNO` (see there); ``dtype`` is the activation dtype."""

    kind: Literal["fno"] = "fno"
    in_channels: int
    out_channels: int
    modes: tuple[int, ...]
    width: int = 32
    depth: int = 4
    use_grid: bool = True
    n_conditioning: int = 0
    domain_padding: int = 0
    dtype: Literal["float32", "bfloat16"] = "float32"

    def __post_init__(self):
        try:
            object.__setattr__(self, "modes", check_modes(self.modes))
        except ValueError as error:
            raise ConfigError(f"FNOConfig: {error}") from error
        for name in ("in_channels", "out_channels", "width", "depth"):
            if getattr(self, name) < 1:
                raise ConfigError(f"FNOConfig: {name} must be ≥ 1, got {getattr(self, name)}")
        for name in ("n_conditioning", "domain_padding"):
            if getattr(self, name) < 0:
                raise ConfigError(f"FNOConfig: {name} must be ≥ 0, got {getattr(self, name)}")


def grid_coordinates(space: tuple[int, ...], dtype: jnp.dtype) -> Float[Array, "*space dim"]:
    """Coordinates ``x_j = j / n`` in ``[0, 1)`` per axis, stacked last (``indexing="ij"``).

    Periodic-style coordinates: the coarse grid is the fine grid subsampled, so that a model
    trained at one resolution sees the same coordinate values at another.
    """
    axes = [jnp.arange(n, dtype=dtype) / n for n in space]
    return jnp.stack(jnp.meshgrid(*axes, indexing="ij"), axis=-1)


def gelu(x: Array) -> Array:
    """Exact GELU ``x Φ(x) = x (1 + erf(x / √2)) / 2`` (Hendrycks & Gimpel 2016).

    Written with ``erf``, as PyTorch does: ``jax.nn.gelu(approximate=False)`` goes through
    ``erfc``, which XLA evaluates on CPU with both branches of a select, about twice the cost.
    Both are within 1.1e-6 (absolute) of the exact value in float32 for |x| ≤ 10.
    """
    return 0.5 * x * (1 + lax.erf(x * math.sqrt(0.5)))


def pointwise(layer: nnx.Linear, h: Float[Array, "*points channel"]) -> Array:
    """``layer`` on the channels of every point, as one 2D matmul over the flattened points:
    XLA on CPU then computes the weight gradient without transposing the activations."""
    return layer(h.reshape(-1, h.shape[-1])).reshape(*h.shape[:-1], -1)


def per_point(fn, h: Float[Array, "*points channel"], chunk: int = 4096) -> Array:
    """``fn`` on ``(rows, channel)`` blocks of the points of ``h``, ``chunk`` rows at a time
    (``lax.map``), recomputed in the backward pass (``jax.checkpoint``).

    For a per-point MLP that widens the channels (the projection's ``4 · width`` hidden layer),
    the wide intermediates of one block stay in cache instead of streaming through memory:
    forward and backward of the projection run 2.4× faster at 64², batch 16, width 32 on CPU.
    """
    rows = h.reshape(-1, h.shape[-1])
    n = rows.shape[0]
    chunk = min(chunk, n)
    blocks = -(-n // chunk)
    rows = jnp.pad(rows, ((0, blocks * chunk - n), (0, 0))).reshape(blocks, chunk, -1)
    out = lax.map(jax.checkpoint(fn), rows)
    return out.reshape(blocks * chunk, -1)[:n].reshape(*h.shape[:-1], -1)


class FNO(nnx.Module):
    """Fourier Neural Operator of Li et al. (2021), channels-last and dimension-generic::

        v₀ = P([u, x])                                   lifting, pointwise
        v_{l+1} = σ( FiLM_l( K_l v_l + W_l v_l ) )       l = 0 … L−1 (no σ after the last)
        y = Q₂ σ(Q₁ v_L)                                 projection, pointwise

    ``K_l`` is a :class:`SpectralConv`, ``W_l`` a pointwise linear skip, ``σ`` the exact GELU,
    ``x`` the optional grid coordinates in ``[0, 1)`` and ``FiLM_l`` the optional modulation
    ``(1 + γ_l) ⊙ h + β_l`` with ``(γ, β)`` from a small MLP of the conditioning parameters.
    ``Q₁`` has ``4 · width`` outputs (Li et al.: 128 for width 32). With ``domain_padding = p``
    the lifted field is zero-padded by ``p`` points at the end of every spatial axis and cropped
    back before the projection, for non-periodic data; padding breaks translation equivariance.

    Args:
        in_channels, out_channels: channels of the input and output fields.
        modes: retained Fourier modes per spatial dimension (its length sets the dimension).
        width: channels of the hidden layers.
        depth: number of Fourier layers ``L``.
        use_grid: append grid coordinates to the input channels.
        n_conditioning: number of scalar parameters for FiLM; ``0`` disables conditioning.
        domain_padding: zero-padding points per spatial axis (``0`` for periodic data).
        dtype: activation dtype (``bfloat16`` allowed: FFTs still run in ``float32``).
        param_dtype: dtype of all parameters.
        rngs: the ``params`` stream draws the weights.

    Returns from ``__call__``: ``(batch, *space, out_channels)`` in ``promote(dtype, float32)``.

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
        width: int = 32,
        depth: int = 4,
        use_grid: bool = True,
        n_conditioning: int = 0,
        domain_padding: int = 0,
        dtype: jnp.dtype | str = jnp.float32,
        param_dtype: jnp.dtype | str = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.modes = check_modes(modes)
        if min(in_channels, out_channels, width, depth) < 1:
            raise ValueError(
                f"FNO needs positive sizes, got {in_channels=} {out_channels=} {width=} {depth=}"
            )
        if n_conditioning < 0 or domain_padding < 0:
            raise ValueError(f"FNO needs {n_conditioning=} ≥ 0 and {domain_padding=} ≥ 0")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.use_grid = use_grid
        self.n_conditioning = n_conditioning
        self.domain_padding = domain_padding
        self.dtype = jnp.dtype(dtype)
        param_dtype = jnp.dtype(param_dtype)
        kw = dict(dtype=self.dtype, param_dtype=param_dtype, rngs=rngs)
        lifted = in_channels + (len(self.modes) if use_grid else 0)
        self.lifting = nnx.Linear(lifted, width, **kw)
        self.spectral = nnx.List(
            [
                SpectralConv(width, width, self.modes, param_dtype=param_dtype, rngs=rngs)
                for _ in range(depth)
            ]
        )
        self.skip = nnx.List([nnx.Linear(width, width, **kw) for _ in range(depth)])
        self.film = FiLM(n_conditioning, width, depth, **kw) if n_conditioning else None
        self.project_hidden = nnx.Linear(width, 4 * width, **kw)
        self.project_out = nnx.Linear(4 * width, out_channels, **kw)

    def check_inputs(self, u: Array, conditioning: Array | None) -> None:
        """Raise a ``ValueError`` naming expected and actual shapes if the inputs do not fit."""
        d = len(self.modes)
        minimum = tuple(2 * m for m in self.modes)
        if (
            u.ndim != d + 2
            or u.shape[-1] != self.in_channels
            or any(n < lo for n, lo in zip(u.shape[1:-1], minimum, strict=True))
        ):
            expected = f"(batch, {', '.join(f'≥{n}' for n in minimum)}, {self.in_channels})"
            raise ValueError(
                f"FNO with modes={self.modes} and in_channels={self.in_channels} expects input of "
                f"shape {expected} ({d} spatial axes with at least 2·modes points each), "
                f"got {tuple(u.shape)}"
            )
        check_conditioning("FNO", u.shape[0], self.n_conditioning, conditioning)

    def __call__(
        self,
        u: Float[Array, "batch *space channel"],
        conditioning: Float[Array, "batch parameter"] | None = None,
    ) -> Float[Array, "batch *space out"]:
        """Map ``u`` of shape ``(batch, *space, in_channels)`` to ``(batch, *space, out)``."""
        self.check_inputs(u, conditioning)
        d = len(self.modes)
        space = u.shape[1:-1]
        h = u.astype(self.dtype)
        if self.use_grid:
            grid = jnp.broadcast_to(grid_coordinates(space, self.dtype), (*u.shape[:-1], d))
            h = jnp.concatenate([h, grid], axis=-1)
        h = pointwise(self.lifting, h)
        if self.domain_padding:
            p = self.domain_padding
            h = jnp.pad(h, [(0, 0)] + [(0, p)] * d + [(0, 0)])
        if self.film is not None:
            scale, shift = self.film(conditioning.astype(self.dtype))
        depth = len(self.spectral)
        for layer, (conv, skip) in enumerate(zip(self.spectral, self.skip, strict=True)):
            h = conv(h) + pointwise(skip, h)
            if self.film is not None:
                h = modulate(h, scale[layer], shift[layer])
            if layer < depth - 1:
                h = gelu(h)
        if self.domain_padding:
            h = h[(slice(None), *(slice(0, n) for n in space))]
        h = per_point(lambda rows: self.project_out(gelu(self.project_hidden(rows))), h)
        return h.astype(jnp.promote_types(self.dtype, jnp.float32))
