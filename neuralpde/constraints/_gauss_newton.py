"""Newton's method on a stack of independent square systems, differentiated implicitly.

The systems are ``R_k(x_k) = 0``, ``k = 1..K``, stacked as ``R: (K, n) → (K, n)``, where ``R_k``
depends on ``x_k`` only: its Jacobian is block diagonal. ``n`` Jacobian-vector products with the
seeds ``E_j = [e_j, …, e_j]`` give column ``j`` of every block at once, and the ``K`` blocks are
solved as one batch (Gauss–Newton on a square system is Newton's method)::

    J_k = ∂R_k/∂x_k (n, n),   x_k ← x_k − J_k⁻¹ R_k(x_k),

until ``max_k |Δx_k|_∞ ≤ atol + rtol max_k |x_k|_∞``. Gradients come from the implicit function
theorem through :func:`jax.lax.custom_root`, never by unrolling the iteration (a ``while_loop``
cannot be reverse-differentiated, so a gradient that exists was not unrolled)::

    ∂x*/∂θ = −blockdiag(J_k(x*))⁻¹ ∂R/∂θ(x*, θ),

with ``θ`` everything ``R`` closes over.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from neuralpde._typing import Array, Float, Int

Stack = Float[Array, "expert n"]
Blocks = Float[Array, "expert n n"]


class BlockSolver(eqx.Module):
    """Batched dense LU solves of the blocks, optionally split over a mesh axis by ``shard_map``.

    Attributes:
        mesh: the device mesh, or ``None`` for one device.
        axis_name: the mesh axis the expert axis is split over.
    """

    mesh: Mesh | None = eqx.field(static=True, default=None)
    axis_name: str = eqx.field(static=True, default="data")

    def jacobian(self, linear: Callable[[Stack], Stack], like: Stack) -> Blocks:
        """The blocks ``J_k (K, n, n)`` of a block-diagonal linear map, from ``n`` products."""
        experts, n = like.shape
        seeds = jnp.broadcast_to(jnp.eye(n, dtype=like.dtype)[:, None, :], (n, experts, n))
        seeds = varying_like(seeds, like)
        if self.mesh is not None:
            # The n products are independent: split them over the devices as well.
            seeds = lax.with_sharding_constraint(seeds, NamedSharding(self.mesh, P(self.axis_name)))
        columns = jax.vmap(linear)(seeds)  # (j, k, i) = J_k[i, j]
        return jnp.transpose(columns, (1, 2, 0))

    def solve(self, blocks: Blocks, rhs: Stack) -> Stack:
        """``J_k⁻¹ rhs_k`` for every ``k``."""
        def local(b, r):
            return jnp.linalg.solve(b, r[..., None])[..., 0]

        if self.mesh is None:
            return local(blocks, rhs)
        split = jax.shard_map(local, mesh=self.mesh,
                              in_specs=(P(self.axis_name), P(self.axis_name)),
                              out_specs=P(self.axis_name))(blocks, rhs)
        # Replicated again: letting XLA propagate the split into the Newton while-loop hung the
        # 4-host-device CPU run (jax 0.10.2).
        return lax.with_sharding_constraint(split, NamedSharding(self.mesh, P()))


def varying_like(seeds: Array, like: Array) -> Array:
    """``seeds + 0``, typed like ``like`` (broadcast on the leading axis).

    Inside ``shard_map`` (e.g. a rollout sharded over trajectories) a linearized function wants
    tangents that vary over the mesh axes its primal varies over; a constant such as an identity
    does not, and ``zeros_like`` carries that type.
    """
    return seeds + jnp.zeros_like(like)[None]


class NewtonStats(eqx.Module):
    """``steps``: Newton iterations taken; ``step``: the last ``max|Δx|``; ``converged``."""

    steps: Int[Array, ""]
    step: Float[Array, ""]
    converged: Array


def block_newton(
    residual: Callable[[Stack], Stack],
    guess: Stack,
    solver: BlockSolver,
    rtol: float,
    atol: float,
    max_steps: int,
) -> tuple[Stack, NewtonStats]:
    """Solve the block-diagonal system ``R(x) = 0`` from ``guess``, with implicit gradients.

    Args:
        residual: ``R (K, n) → (K, n)``, row ``k`` depending on row ``k`` of its input only; it
            may close over traced arrays, which are differentiated through the solution.
        guess: the starting stack ``x⁰ (K, n)``; the solution's derivative does not depend on it.
        solver: how the ``K`` blocks are formed and solved.
        rtol, atol: the step tolerance ``max|Δx| ≤ atol + rtol max|x|``.
        max_steps: Newton iterations at most (no error when reached: see ``converged``).

    Returns:
        ``(x*, stats)``.
    """
    def newton(function, start):
        def step(carry):
            x, _, count = carry
            value, linear = jax.linearize(function, x)
            delta = solver.solve(solver.jacobian(linear, x), value)
            return x - delta, jnp.max(jnp.abs(delta)), count + 1

        def unfinished(carry):
            x, size, count = carry
            return (count < max_steps) & ~(size <= atol + rtol * jnp.max(jnp.abs(x)))

        # Carries typed like the iterate (inside shard_map they must vary as it does).
        scalar = jnp.zeros_like(start, shape=())
        infinity = scalar + jnp.inf
        count = scalar.astype(jnp.int32)
        x, size, count = lax.while_loop(unfinished, step, (start, infinity, count))
        converged = size <= atol + rtol * jnp.max(jnp.abs(x))
        # custom_root gives integer and boolean aux outputs integer tangents, which JAX rejects
        # (it wants float0): pass them as floats.
        return x, (count.astype(x.dtype), size, converged.astype(x.dtype))

    def tangent_solve(linear, rhs):
        return solver.solve(solver.jacobian(linear, rhs), rhs)

    x, (count, size, converged) = lax.custom_root(residual, guess, newton, tangent_solve,
                                                  has_aux=True)
    return x, NewtonStats(count.astype(jnp.int32), size, converged > 0)
