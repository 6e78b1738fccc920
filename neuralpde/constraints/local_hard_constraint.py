"""Local hard constraints: a mixture of subdomain experts, each enforcing the discrete PDE on its
own cells (PI-HC-MoE, Chalapathi et al. 2024, "Scaling physics-informed hard constraints with
mixture-of-experts", here on a finite-volume residual rather than collocation points).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh

from neuralpde._typing import Array, Float
from neuralpde.constraints import _tiles
from neuralpde.constraints._gauss_newton import BlockSolver, NewtonStats, block_newton

Field = Float[Array, "*space"]
Residual = Callable[[Field], Field]


def _colours(counts: tuple[int, ...]) -> np.ndarray:
    """A colour per expert (flat, row-major) such that two experts of one colour never touch.

    Along an axis the colours alternate 0, 1, …; an odd count ≥ 3 gives its last block colour 2,
    so that the first and last blocks differ across a periodic wrap.
    """
    per_axis = []
    for count in counts:
        colour = np.arange(count) % 2
        if count % 2 and count > 1:
            colour[-1] = 2
        per_axis.append(colour)
    palette = tuple(1 if c == 1 else 2 + c % 2 for c in counts)
    grids = np.meshgrid(*per_axis, indexing="ij")
    return np.ravel_multi_index(tuple(g.ravel() for g in grids), palette)


class LocalSolveStats(eqx.Module):
    """Per sweep: ``global_residual`` ``max|r(u)|`` after it (sweeps,), ``local_residual`` the
    largest subdomain residual with its neighbours as they were frozen (sweeps,), and the Newton
    ``newton`` stats of each expert group (sweeps, groups)."""

    global_residual: Float[Array, " sweeps"]
    local_residual: Float[Array, " sweeps"]
    newton: NewtonStats


class LocalHardConstraint(eqx.Module):
    """Correct a predicted frame ``μ`` so that the residual vanishes on every subdomain.

    The grid is cut into ``K = Π_d K_d`` equal contiguous tiles (experts). In one sweep every
    expert ``k`` solves its own square system for its cell values ``x_k`` (the correction of
    ``μ`` on its tile), the other tiles held at the current iterate ``u``::

        r(u with tile k := x_k)|_tile k = 0,   u ← u with every tile k := x_k,

    by Newton's method (block-Jacobi nonlinear additive Schwarz; ``"multiplicative"`` updates
    one colour of tiles after the other, block Gauss–Seidel). ``sweeps`` sweeps are run; once
    they converge, ``u`` solves the global implicit step ``r(u) = 0``. ``experts=(1,)`` or
    ``(1, 1)`` is that global constraint: one Newton solve with the dense ``N × N`` Jacobian.

    ``r`` is evaluated on the whole grid (it carries the boundary conditions), so the experts'
    systems are formed together: the tiles are coloured so that no two tiles of one colour touch
    (2 colours per axis, 3 for an odd count), and one evaluation per colour, on ``u`` with that
    colour's tiles replaced, gives all their residuals; ``n_k`` JVPs per colour give all their
    Jacobian blocks. A sweep's Newton step costs ``C (n_k + 1)`` residual evaluations of
    ``O(N)`` and ``K`` LU solves of ``O(n_k³)``, against ``N`` and ``O(N³)`` for the global one.
    The residual's stencil must not reach past the neighbouring tile (radius ≤ tile size).

    Gradients with respect to ``μ`` and to everything ``r`` closes over (``u₀``, ``Δt``) use the
    implicit function theorem on each expert solve (``−J_k⁻¹ ∂r/∂θ``), composed over sweeps.

    Attributes:
        experts: tiles per axis ``(K_x[, K_y])``; each must divide the grid's size on that axis.
        sweeps: outer (Schwarz) iterations, fixed.
        schedule: ``"additive"`` (all experts at once) or ``"multiplicative"`` (colour by colour).
        rtol, atol: Newton step tolerance ``max|Δx| ≤ atol + rtol max|x|``; ``None``: ``√ε``
            of the prediction's dtype.
        max_steps: Newton iterations per expert solve at most.
        mesh: a device mesh to split the expert axis (and the Jacobian products) over, or None.
            Experimental, and broken on XLA:CPU host devices: there the 4-device solve of the
            tests hangs (jax 0.10.2; it once finished, matching one device to 1e-11). Untested
            on GPUs and TPUs. The unsharded experts (``mesh=None``) run under ``vmap`` on any
            device, and inside a ``shard_map`` over the batch, as rollouts use them.
        axis_name: the mesh axis used.
    """

    experts: tuple[int, ...] = eqx.field(static=True)
    sweeps: int = eqx.field(static=True, default=4)
    schedule: Literal["additive", "multiplicative"] = eqx.field(static=True, default="additive")
    rtol: float | None = eqx.field(static=True, default=None)
    atol: float | None = eqx.field(static=True, default=None)
    max_steps: int = eqx.field(static=True, default=20)
    mesh: Mesh | None = eqx.field(static=True, default=None)
    axis_name: str = eqx.field(static=True, default="data")

    def __check_init__(self):
        if not self.experts or any(not isinstance(k, int) or k < 1 for k in self.experts):
            raise ValueError(f"experts must be a tuple of positive ints per axis, got "
                             f"{self.experts}")
        if self.sweeps < 1 or self.max_steps < 1:
            raise ValueError(f"need sweeps >= 1 and max_steps >= 1, got {self.sweeps}, "
                             f"{self.max_steps}")
        if self.schedule not in ("additive", "multiplicative"):
            raise ValueError(f"schedule must be 'additive' or 'multiplicative', got "
                             f"{self.schedule!r}")
        if self.mesh is not None and self.axis_name not in self.mesh.axis_names:
            raise ValueError(f"mesh has axes {self.mesh.axis_names}, not {self.axis_name!r}")

    @property
    def groups(self) -> list[np.ndarray]:
        """The experts solved together: all of them, or one colour at a time."""
        colours = _colours(self.experts)
        if self.schedule == "additive":
            return [np.arange(colours.size)]
        return [np.flatnonzero(colours == c) for c in np.unique(colours)]

    def tiles(self, u: Float[Array, "*space"]) -> Float[Array, "expert n"]:
        """``u`` as one row per tile, ``(K, n_k)``, tiles and their cells in row-major order."""
        return _tiles.tiles(u, self.experts)

    def untile(self, x: Float[Array, "expert n"], shape: tuple[int, ...]) -> Float[Array, "*space"]:
        """The inverse of :meth:`tiles` for a grid of ``shape``."""
        return _tiles.untile(x, self.experts, shape)

    def check(self, residual: Residual, prediction: Field) -> None:
        """Raise ``ValueError``, naming the shapes, unless the tiling fits ``prediction``."""
        _tiles.check_tiling(self.experts, residual, prediction)
        if self.mesh is not None:
            devices = self.mesh.shape[self.axis_name]
            sizes = [group.size for group in self.groups]
            if any(size % devices for size in sizes):
                raise ValueError(f"expert groups of sizes {sizes} do not split over the "
                                 f"{devices} devices of mesh axis {self.axis_name!r}")

    def __call__(self, residual: Residual, prediction: Field) -> Field:
        """The corrected frame ``u* (*space)``; see :meth:`solve`."""
        return self.solve(residual, prediction)[0]

    def solve(self, residual: Residual, prediction: Field) -> tuple[Field, LocalSolveStats]:
        """Correct ``prediction`` into ``u*`` with ``r(u*) ≈ 0`` on every tile.

        Args:
            residual: ``r(u) (*space) → (*space)``, unbatched, e.g.
                ``lambda u: PorousMediumResidual(pde, dt)(u0, u, t0)``.
            prediction: the model's frame ``μ (*space)``, the starting iterate.

        Returns:
            ``(u*, stats)``.
        """
        self.check(residual, prediction)
        shape, groups = prediction.shape, self.groups
        colours = _colours(self.experts)
        eps = float(jnp.finfo(prediction.dtype).eps)
        rtol = math.sqrt(eps) if self.rtol is None else self.rtol
        atol = math.sqrt(eps) if self.atol is None else self.atol
        solver = BlockSolver(self.mesh, self.axis_name)

        def solve_group(u, members):
            present = np.unique(colours[members])
            mask = np.zeros((present.size, colours.size), bool)
            mask[np.searchsorted(present, colours[members]), members] = True
            pick = np.searchsorted(present, colours[members])

            def local(x):
                frozen = self.tiles(u)
                placed = frozen.at[members].set(x)
                fields = jnp.where(mask[:, :, None], placed[None], frozen[None])
                values = jax.vmap(lambda f: self.tiles(residual(self.untile(f, shape))))(fields)
                return values[pick, members]

            x, stats = block_newton(local, self.tiles(u)[members], solver, rtol, atol,
                                    self.max_steps)
            return self.tiles(u).at[members].set(x), jnp.max(jnp.abs(local(x))), stats

        def sweep(u, _):
            local_max, stats = [], []
            for members in groups:
                tiles, largest, group_stats = solve_group(u, members)
                u = self.untile(tiles, shape)
                local_max.append(largest)
                stats.append(group_stats)
            stacked = jax.tree.map(lambda *s: jnp.stack(s), *stats)
            return u, (jnp.max(jnp.abs(residual(u))), jnp.max(jnp.stack(local_max)), stacked)

        u, (global_max, local_max, newton) = lax.scan(sweep, prediction, length=self.sweeps)
        return u, LocalSolveStats(global_max, local_max, newton)

