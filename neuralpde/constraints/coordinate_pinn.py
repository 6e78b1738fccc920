"""A coordinate-network PINN for the 1D generalized porous-medium equation (the continuous mode).

A network ``u_θ(x, t)`` is fitted to ``u_t = ∂_x(k(u) u_x) = ∂_xx Φ(u)`` on ``[a, b] × [0, T]``
with Dirichlet data, by minimising

    L(θ) = mean_{collocation} r² + w_i mean_{t=0} (u_θ − u₀)² + w_b mean_{x=a,b} (u_θ − g)²,
    r = ∂_t u_θ − ∂_x (∂_x Φ(u_θ)),

with all derivatives by automatic differentiation (Raissi, Perdikaris, Karniadakis 2019). With
``adaptive=True`` the collocation points are redrawn every ``resample_every`` steps from the
residual-based density ``p ∝ |r|^k / mean|r|^k + c`` over a uniform pool (RAD: Wu et al. 2023, "A
comprehensive study of non-adaptive and residual-based adaptive sampling for PINNs").
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from flax import nnx

from neuralpde._typing import Array, Float, PRNGKeyArray
from neuralpde.pde.diffusivity import AbstractDiffusivity

Points = Float[Array, "point 2"]  # (x, t) per row


class CoordinateMLP(nnx.Module):
    """``u_θ(x, t)``: a tanh MLP on ``(x, t)`` rescaled to ``[−1, 1]²``.

    Args:
        lower, upper: the box ``(a, 0)``, ``(b, T)`` that is mapped onto ``[−1, 1]²``.
        width, depth: hidden units per layer and number of hidden layers.
        dtype: parameter and activation dtype; rngs: the ``params`` stream.
    """

    def __init__(self, lower: tuple[float, float], upper: tuple[float, float], width: int = 32,
                 depth: int = 3, *, dtype=jnp.float32, rngs: nnx.Rngs):
        sizes = [2] + [width] * depth + [1]
        self.layers = nnx.List([nnx.Linear(i, o, dtype=dtype, param_dtype=dtype, rngs=rngs)
                                for i, o in itertools.pairwise(sizes)])
        self.lower = nnx.Variable(jnp.asarray(lower, dtype))
        self.upper = nnx.Variable(jnp.asarray(upper, dtype))

    def __call__(self, x: Float[Array, ""], t: Float[Array, ""]) -> Float[Array, ""]:
        z = jnp.stack([x, t])
        h = 2 * (z - self.lower[...]) / (self.upper[...] - self.lower[...]) - 1
        for layer in self.layers[:-1]:
            h = jnp.tanh(layer(h))
        return self.layers[-1](h)[0]


def gpme_residual(model: CoordinateMLP, diffusivity: AbstractDiffusivity, x: Float[Array, ""],
                  t: Float[Array, ""]) -> Float[Array, ""]:
    """``r = ∂_t u − ∂_x(∂_x Φ(u))`` at one point, by reverse-mode AD (vmap outside)."""

    def flux_potential_slope(x):
        return jax.grad(lambda x: diffusivity.potential(model(x, t)))(x)

    return jax.grad(model, argnums=1)(x, t) - jax.grad(flux_potential_slope)(x)


class GPMEProblem1D(eqx.Module):
    """``u_t = ∂_xx Φ(u)`` on ``[lower, upper] × [0, t_end]``, ``u(x, 0) = u₀``, ``u = g`` on the
    two ends; ``initial(points)`` and ``boundary(t, points)`` take points ``(..., 1)`` like the
    exact solutions of :mod:`neuralpde.pde.porous_medium_exact`."""

    diffusivity: AbstractDiffusivity
    initial: Callable[[Array], Array] = eqx.field(static=True)
    boundary: Callable[[Array, Array], Array] = eqx.field(static=True)
    lower: float = eqx.field(static=True)
    upper: float = eqx.field(static=True)
    t_end: float = eqx.field(static=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PINNConfig:
    """Network, sampling and optimiser settings of :func:`fit_coordinate_pinn`."""

    width: int = 32
    depth: int = 3
    steps: int = 3000
    learning_rate: float = 3e-3
    n_collocation: int = 512
    n_initial: int = 128
    n_boundary: int = 64
    initial_weight: float = 10.0
    boundary_weight: float = 10.0
    adaptive: bool = True
    resample_every: int = 500
    pool: int = 8192
    rad_k: float = 1.0
    rad_c: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.steps % self.resample_every:
            raise ValueError(f"steps ({self.steps}) must be a multiple of resample_every "
                             f"({self.resample_every})")
        if min(self.n_collocation, self.n_initial, self.n_boundary) < 1:
            raise ValueError("point counts must be >= 1")
        if self.pool < self.n_collocation:
            raise ValueError(f"the candidate pool ({self.pool}) must hold at least n_collocation "
                             f"({self.n_collocation}) points")


def _uniform(key: PRNGKeyArray, problem: GPMEProblem1D, n: int, dtype) -> Points:
    low = jnp.asarray([problem.lower, 0.0], dtype)
    high = jnp.asarray([problem.upper, problem.t_end], dtype)
    return jax.random.uniform(key, (n, 2), dtype, low, high)


def residual_adaptive_points(key: PRNGKeyArray, residual: Callable[[Points], Array],
                             problem: GPMEProblem1D, n: int, pool: int, k: float = 1.0,
                             c: float = 1.0, dtype=jnp.float32) -> Points:
    """RAD: ``n`` of ``pool`` uniform candidates drawn with probability ``∝ |r|^k/mean|r|^k + c``.

    ``residual`` maps points ``(pool, 2)`` to ``r (pool,)``. ``k`` sharpens the density, ``c``
    flattens it: ``c → ∞`` is uniform sampling. Draws without replacement (``pool ≥ n``).
    """
    pool_key, choice_key = jax.random.split(key)
    candidates = _uniform(pool_key, problem, pool, dtype)
    weight = jnp.abs(residual(candidates)) ** k
    density = weight / jnp.mean(weight) + c
    index = jax.random.choice(choice_key, pool, (n,), replace=False, p=density / jnp.sum(density))
    return candidates[index]


def pinn_loss(model: CoordinateMLP, problem: GPMEProblem1D, collocation: Points,
              initial: Points, boundary: Points, config: PINNConfig) -> Float[Array, ""]:
    """``L(θ)`` of the module docstring on the given points (``t = 0`` and ``x ∈ {a, b}`` rows)."""
    r = jax.vmap(gpme_residual, (None, None, 0, 0))(model, problem.diffusivity,
                                                    collocation[:, 0], collocation[:, 1])
    u = jax.vmap(model)
    u0 = problem.initial(initial[:, :1])
    g = jax.vmap(problem.boundary)(boundary[:, 1], boundary[:, :1])
    return (jnp.mean(r**2)
            + config.initial_weight * jnp.mean((u(initial[:, 0], initial[:, 1]) - u0) ** 2)
            + config.boundary_weight * jnp.mean((u(boundary[:, 0], boundary[:, 1]) - g) ** 2))


def fit_coordinate_pinn(problem: GPMEProblem1D, config: PINNConfig = PINNConfig(),
                        dtype=jnp.float32) -> tuple[CoordinateMLP, Float[Array, " step"]]:
    """Train ``u_θ`` with Adam; returns the model and the loss per step.

    Initial and boundary points are fixed (a uniform draw); collocation points are uniform, then
    redrawn by :func:`residual_adaptive_points` every ``resample_every`` steps when ``adaptive``.
    """
    key = jax.random.key(config.seed)
    model_key, data_key, key = jax.random.split(key, 3)
    model = CoordinateMLP((problem.lower, 0.0), (problem.upper, problem.t_end), config.width,
                          config.depth, dtype=dtype, rngs=nnx.Rngs(params=model_key))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    k1, k2, k3 = jax.random.split(data_key, 3)
    initial = _uniform(k1, problem, config.n_initial, dtype).at[:, 1].set(0)
    ends = jnp.where(jnp.arange(config.n_boundary) % 2 == 0, problem.lower, problem.upper)
    boundary = _uniform(k2, problem, config.n_boundary, dtype).at[:, 0].set(ends.astype(dtype))
    collocation = _uniform(k3, problem, config.n_collocation, dtype)
    tx = optax.adam(optax.cosine_decay_schedule(config.learning_rate, config.steps, 0.05))
    opt_state = tx.init(params)

    def loss_of(params, collocation):
        return pinn_loss(nnx.merge(graphdef, params, rest), problem, collocation, initial,
                         boundary, config)

    def residual_at(params, points):
        model = nnx.merge(graphdef, params, rest)
        return jax.vmap(gpme_residual, (None, None, 0, 0))(
            model, problem.diffusivity, points[:, 0], points[:, 1])

    def step(carry, _):
        params, opt_state, collocation = carry
        loss, grads = jax.value_and_grad(loss_of)(params, collocation)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, collocation), loss

    def train_round(carry, key):
        carry, losses = jax.lax.scan(step, carry, length=config.resample_every)
        params, opt_state, collocation = carry
        if config.adaptive:
            collocation = residual_adaptive_points(
                key, functools.partial(residual_at, params), problem, config.n_collocation,
                config.pool, config.rad_k, config.rad_c, dtype)
        return (params, opt_state, collocation), losses

    # One compiled program for the whole fit: rounds and their steps are both scans.
    @jax.jit
    def train(params, opt_state, collocation, keys):
        (params, _, _), losses = jax.lax.scan(train_round, (params, opt_state, collocation), keys)
        return params, losses.reshape(-1)

    params, losses = train(params, opt_state, collocation,
                           jax.random.split(key, config.steps // config.resample_every))
    return nnx.merge(graphdef, params, rest), losses
