"""Subdomain balance: a hard constraint that makes the residual's low moments vanish on every tile
(PI-HC-MoE, Chalapathi et al. 2024, "Scaling physics-informed hard constraints with
mixture-of-experts", with the experts' corrections over a tile-local polynomial basis).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from neuralpde._typing import Array, Bool, Float, Int
from neuralpde.constraints import _tiles
from neuralpde.constraints._gauss_newton import varying_like

Field = Float[Array, "*space"]
Residual = Callable[[Field], Field]


class BalanceStats(eqx.Module):
    """``steps``: Newton iterations taken; ``step``: the last ``max|Δc|``; ``converged``;
    ``moment``: ``max_{k,b} |G_{k,b}(c*)|`` after the solve."""

    steps: Int[Array, ""]
    step: Float[Array, ""]
    converged: Bool[Array, ""]
    moment: Float[Array, ""]


class SubdomainBalance(eqx.Module):
    """Correct a predicted frame ``μ`` so that the residual's moments vanish on every tile.

    The grid ``(*space)`` is cut into ``K = Π_d K_d`` equal contiguous tiles (experts), and the
    corrected frame is ``μ`` plus a polynomial of degree ``p`` on each tile::

        u* = μ + Σ_k Σ_b c_{k,b} φ_{k,b},

    ``φ_{k,b}`` supported on tile ``k``: ``p = 0`` its indicator (``B = 1``); ``p = 1`` also the
    cell index along each axis, centred and scaled to ``(−1, 1)`` inside the tile (``B = 1 + d``).
    The ``K B`` coefficients solve the square Galerkin system::

        G_{k,b}(c) = Σ_{i ∈ tile k} φ_{k,b}(i) r_i(u*) = 0.

    With ``p = 0`` this is every subdomain's balance: the sum of a finite-volume residual over a
    tile is the tile's mass change less its boundary fluxes. Newton's method from ``c = 0``,
    ``c ← c − J⁻¹ G(c)`` with the dense ``J = ∂G/∂c (KB, KB)``, stops once
    ``max|Δc| ≤ atol + rtol max(max|c|, max|μ|)`` (``|φ| ≤ 1``, so ``c`` is in the field's units).
    A step costs one residual linearization, ``K B`` JVPs (batched: ``K B`` fields in memory) and
    one ``KB × KB`` LU. Every column of ``J`` is formed exactly on the whole grid, so unlike
    :class:`LocalHardConstraint` the residual need not be local: spectral (global) residuals such
    as :class:`NavierStokesResidual` work. ``J ≈ ΦᵀΦ/Δt`` for a time-step residual, so the LU is
    well conditioned for moderate ``Δt``.

    Gradients with respect to ``μ`` and to everything ``r`` closes over (``u₀``, ``Δt``) use the
    implicit function theorem through :func:`jax.lax.custom_root` (``∂c*/∂θ = −J⁻¹ ∂G/∂θ``),
    never the unrolled iteration.

    Attributes:
        experts: tiles per axis ``(K_x[, K_y])``; each must divide the grid's size on that axis.
        degree: ``0`` (constant per tile) or ``1`` (affine per tile, tiles ≥ 2 cells per axis).
        rtol, atol: the Newton step tolerance above; ``None``: ``√ε`` of the prediction's dtype.
        max_steps: Newton iterations at most (no error when reached: see ``converged``).
    """

    experts: tuple[int, ...] = eqx.field(static=True)
    degree: int = eqx.field(static=True, default=0)
    rtol: float | None = eqx.field(static=True, default=None)
    atol: float | None = eqx.field(static=True, default=None)
    max_steps: int = eqx.field(static=True, default=20)

    def __check_init__(self):
        if not self.experts or any(not isinstance(k, int) or k < 1 for k in self.experts):
            raise ValueError(f"experts must be a tuple of positive ints per axis, got "
                             f"{self.experts}")
        if self.degree not in (0, 1):
            raise ValueError(f"degree must be 0 or 1, got {self.degree}")
        if self.max_steps < 1:
            raise ValueError(f"need max_steps >= 1, got {self.max_steps}")

    def basis(self, shape: tuple[int, ...]) -> np.ndarray:
        """``φ_b`` on one tile of a grid of ``shape``, ``(B, n_k)``, cells in row-major order."""
        sizes = [n // k for n, k in zip(shape, self.experts, strict=True)]
        ones = np.ones(math.prod(sizes))
        if self.degree == 0:
            return ones[None]
        centred = [(2 * np.arange(s) - (s - 1)) / s for s in sizes]
        return np.stack([ones, *(x.ravel() for x in np.meshgrid(*centred, indexing="ij"))])

    def tiles(self, u: Float[Array, "*space"]) -> Float[Array, "expert n"]:
        """``u`` as one row per tile, ``(K, n_k)``, tiles and their cells in row-major order."""
        return _tiles.tiles(u, self.experts)

    def untile(self, x: Float[Array, "expert n"], shape: tuple[int, ...]) -> Float[Array, "*space"]:
        """The inverse of :meth:`tiles` for a grid of ``shape``."""
        return _tiles.untile(x, self.experts, shape)

    def check(self, residual: Residual, prediction: Field) -> None:
        """Raise ``ValueError``, naming the shapes, unless the tiling fits ``prediction``."""
        _tiles.check_tiling(self.experts, residual, prediction)
        shape = tuple(prediction.shape)
        sizes = tuple(n // k for n, k in zip(shape, self.experts, strict=True))
        if self.degree == 1 and min(sizes) < 2:
            raise ValueError(f"degree 1 needs tiles of at least 2 cells per axis; experts "
                             f"{self.experts} cut shape {shape} into tiles of shape {sizes}")

    def __call__(self, residual: Residual, prediction: Field) -> Field:
        """The corrected frame ``u* (*space)``; see :meth:`solve`."""
        return self.solve(residual, prediction)[0]

    def solve(self, residual: Residual, prediction: Field) -> tuple[Field, BalanceStats]:
        """Correct ``prediction`` into ``u*`` with ``G(c*) ≈ 0`` on every tile.

        Args:
            residual: ``r(u) (*space) → (*space)``, unbatched, e.g.
                ``lambda u: PorousMediumResidual(pde, dt)(u0, u, t0)``.
            prediction: the model's frame ``μ (*space)``.

        Returns:
            ``(u*, stats)``.
        """
        self.check(residual, prediction)
        shape, dtype = prediction.shape, prediction.dtype
        basis = jnp.asarray(self.basis(shape), dtype)
        experts, functions = math.prod(self.experts), basis.shape[0]
        eps = float(jnp.finfo(dtype).eps)
        rtol = math.sqrt(eps) if self.rtol is None else self.rtol
        atol = math.sqrt(eps) if self.atol is None else self.atol
        # Tolerances are not differentiated (custom_root gives the solver's closure no tangent).
        scale = jnp.max(jnp.abs(prediction))

        def correction(c):
            return self.untile(c.reshape(experts, functions) @ basis, shape)

        def moments(c):
            return (self.tiles(residual(prediction + correction(c))) @ basis.T).reshape(-1)

        def jacobian(linear, like):
            seeds = varying_like(jnp.eye(like.size, dtype=like.dtype), like)
            return jax.vmap(linear)(seeds).T

        def newton(function, start):
            def tolerance(c):
                return atol + rtol * jnp.maximum(jnp.max(jnp.abs(c)), scale)

            def step(carry):
                c, _, count = carry
                value, linear = jax.linearize(function, c)
                delta = jnp.linalg.solve(jacobian(linear, c), value)
                return c - delta, jnp.max(jnp.abs(delta)), count + 1

            def unfinished(carry):
                c, size, count = carry
                return (count < self.max_steps) & ~(size <= tolerance(c))

            # Carries typed like the iterate (inside shard_map they must vary as it does).
            scalar = jnp.zeros_like(start, shape=())
            infinity = scalar + jnp.inf
            count = scalar.astype(jnp.int32)
            c, size, count = lax.while_loop(unfinished, step, (start, infinity, count))
            moment = jnp.max(jnp.abs(function(c)))
            # custom_root gives integer and boolean aux outputs integer tangents, which JAX
            # rejects (it wants float0): pass them as floats.
            return c, (count.astype(dtype), size, (size <= tolerance(c)).astype(dtype), moment)

        def tangent_solve(linear, rhs):
            return jnp.linalg.solve(jacobian(linear, rhs), rhs)

        # typed like the prediction, so that inside shard_map it varies as the iterates do
        start = jnp.zeros_like(prediction, shape=(experts * functions,))
        c, (count, size, converged, moment) = lax.custom_root(moments, start, newton,
                                                              tangent_solve, has_aux=True)
        stats = BalanceStats(count.astype(jnp.int32), size, converged > 0, moment)
        return prediction + correction(c), stats
