"""CFL-adaptive stepping: every interval between frames cut into equal steps chosen at its start."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp

from neuralpde._typing import Array, Complex, Float, Int
from neuralpde.solvers._base import AbstractStepper, SemiLinearPDE
from neuralpde.solvers.rollout import rollout

Observation = TypeVar("Observation")


class AdvectivePDE(SemiLinearPDE, Protocol):
    """A semi-linear PDE whose explicit part advects at the speed ``max_speed(state)``."""

    def max_speed(self, state: Complex[Array, "..."]) -> Float[Array, ""]: ...


class CFLAdaptiveInterval(eqx.Module):
    """Advances one state across an interval ``Δ`` in ``m`` equal steps of a fixed-step stepper::

        m = clip(⌈ max|u| Δ / (C dx) ⌉, m_min, m_max),   m_min = ⌈Δ / dt_max⌉,   h = Δ / m,

    with ``max|u|`` measured at the start of the interval. Every step then has a Courant number
    ``max|u| h / dx ≤ C`` at that instant, and none is longer than ``dt_max``. ``m_max`` (a
    multiple of ``m_min``) bounds the work: where it binds, the Courant number exceeds ``C``, and
    a non-finite speed takes ``m_min`` steps; the caller's health check (the Courant number it
    records) reports both. The stepper's coefficients are rebuilt for each ``h``, which the
    series-or-closed-form φ-functions make cheap. ``m`` depends only on the trajectory's own
    state, so batched (vmapped) trajectories are each stepped exactly as alone.

    The stepper's order carries over as ``C → 0`` (``h`` shrinks in proportion to ``C``).

    Args:
        stepper: a fixed-step stepper class, e.g. ``ETDRK4``.
        pde: the equation; it provides ``max_speed``.
        interval: ``Δ``.
        max_dt: ``dt_max``.
        courant: ``C``, a number or a traced scalar.
        dx: the grid spacing of the CFL condition.
        max_steps_factor: ``m_max / m_min``.
    """

    stepper: type[AbstractStepper] = eqx.field(static=True)
    pde: AdvectivePDE
    interval: float = eqx.field(static=True)
    courant: float | Float[Array, ""]
    dx: float = eqx.field(static=True)
    min_steps: int = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)

    def __init__(self, stepper, pde, interval, max_dt, courant, dx, max_steps_factor=64):
        if not (interval > 0 and max_dt > 0 and dx > 0):
            raise ValueError(f"interval, max_dt and dx must be > 0, got {interval}, {max_dt}, {dx}")
        if isinstance(courant, int | float) and not courant > 0:
            raise ValueError(f"the Courant number must be > 0, got {courant}")
        self.stepper = stepper
        self.pde = pde
        self.interval = float(interval)
        self.courant = courant
        self.dx = float(dx)
        self.min_steps = max(1, math.ceil(interval / max_dt - 1e-9))
        self.max_steps = self.min_steps * max_steps_factor

    def number_of_steps(self, speed: Float[Array, ""]) -> Int[Array, ""]:
        """``m`` for an interval starting at ``max|u| = speed``."""
        wanted = jnp.ceil(speed * (self.interval / self.dx) / self.courant)
        wanted = jnp.where(jnp.isfinite(wanted), wanted, self.min_steps)
        return jnp.clip(wanted, self.min_steps, self.max_steps).astype(jnp.int32)

    def step_size(self, speed: Float[Array, ""]) -> Float[Array, ""]:
        """``h = Δ / m`` in the dtype of ``speed``."""
        return self.interval / self.number_of_steps(speed).astype(jnp.result_type(speed))

    def __call__(
        self, state: Complex[Array, "..."], speed: Float[Array, ""] | None = None
    ) -> tuple[Complex[Array, "..."], Float[Array, ""]]:
        """``(state at t + Δ, h)``; pass ``speed = pde.max_speed(state)`` if already known."""
        if speed is None:
            speed = self.pde.max_speed(state)
        steps = self.number_of_steps(speed)
        h = self.interval / steps.astype(jnp.result_type(speed))
        step = self.stepper(self.pde, h)
        return jax.lax.fori_loop(0, steps, lambda _, s: step(s), state), h


def speed_tracking_rollout(
    advance: Callable[[Array, Array], tuple[Array, Array]],
    step_size: Callable[[Array], Array],
    max_speed: Callable[[Array], Array],
    n: int,
    *,
    include_init: bool = False,
    observe: Callable[[tuple[Array, Array, Array]], Observation] | None = None,
) -> Callable[[Array], Observation]:
    """:func:`rollout` of ``n`` intervals whose carry is ``(state, max|u|, h)``.

    ``advance(state, max|u|) -> (state one interval later, step size used)`` (a
    :class:`CFLAdaptiveInterval`, or a fixed-step equivalent); ``max|u|`` is computed once per
    interval and handed both to the next interval's step choice and to ``observe``, which sees
    ``(state, max|u|, h)`` with ``h`` the step that led there (at the start, ``step_size(max|u|)``,
    the one assigned there).
    """

    def step(carry):
        state, speed, _ = carry
        state, h = advance(state, speed)
        return state, max_speed(state), h

    def run(state0):
        speed = max_speed(state0)
        return rollout(step, n, include_init=include_init, observe=observe)(
            (state0, speed, step_size(speed))
        )

    return run
