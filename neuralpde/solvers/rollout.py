"""One ``rollout`` on ``lax.scan`` for data generation, autoregressive training and evaluation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import jax

State = TypeVar("State")
Observation = TypeVar("Observation")


def repeat(step: Callable[[State], State], n: int) -> Callable[[State], State]:
    """``step`` composed ``n`` times, as one ``lax.fori_loop`` (no Python unrolling)."""
    if n < 1:
        raise ValueError(f"repeat needs n >= 1, got {n}")
    if n == 1:
        return step
    return lambda state: jax.lax.fori_loop(0, n, lambda _, s: step(s), state)


def rollout(
    step: Callable[[State], State],
    n: int,
    *,
    include_init: bool = False,
    observe: Callable[[State], Observation] | None = None,
) -> Callable[[State], Observation]:
    """Map ``state₀`` to the stacked observations of ``n`` successive steps.

    Args:
        step: advances one state by one step.
        n: number of steps.
        include_init: prepend the observation of ``state₀`` (``n + 1`` entries along axis 0).
        observe: applied to each state before stacking (identity by default).

    Returns:
        A function of ``state₀`` giving a PyTree with a leading time axis of ``n`` (or ``n + 1``).
    """
    observe = observe if observe is not None else (lambda s: s)

    def scan_body(state, _):
        state = step(state)
        return state, observe(state)

    def run(state0):
        _, trajectory = jax.lax.scan(scan_body, state0, length=n)
        if include_init:
            first = observe(state0)
            trajectory = jax.tree.map(
                lambda a, b: jax.numpy.concatenate([a[None], b]), first, trajectory
            )
        return trajectory

    return run
