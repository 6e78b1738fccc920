"""A neural operator as an autoregressive emulator: one step, and a rollout on ``lax.scan``.

The emulator works in normalised units. Its state is the window of the last ``h`` frames,
``(batch, h, *space, channel)``. One step feeds the window to the model with time folded into
channels, ``(batch, *space, h · channel)``, and appends the predicted frame::

    target = "state":       û_{n+1} = model(u_{n-h+1..n})
    target = "difference":  û_{n+1} = u_n + model(u_{n-h+1..n})

Both run under ``jit`` with static shapes; the rollout is :func:`neuralpde.solvers.rollout`.
"""

from __future__ import annotations

from typing import Literal

import jax.numpy as jnp

from neuralpde._typing import Array, Float
from neuralpde.data.normalization import Normalization
from neuralpde.solvers.rollout import rollout

Target = Literal["state", "difference"]
Window = Float[Array, "batch history *space channel"]
Frame = Float[Array, "batch *space channel"]


def fold_time(window: Window) -> Float[Array, "batch *space history_channel"]:
    """``(batch, h, *space, c) -> (batch, *space, h · c)``, oldest frame first."""
    moved = jnp.moveaxis(window, 1, -2)
    return moved.reshape(*moved.shape[:-2], -1)


def predict_next(
    model, window: Window, conditioning: Array | None, target: Target = "state"
) -> Frame:
    """The next normalised frame from a normalised window (see the module docstring)."""
    out = model(fold_time(window), conditioning)
    if target == "state":
        return out
    if target == "difference":
        return window[:, -1] + out
    raise ValueError(f"unknown target {target!r}; known: ['state', 'difference']")


def advance(window: Window, frame: Frame) -> Window:
    """Drop the oldest frame and append ``frame``."""
    return jnp.concatenate([window[:, 1:], frame[:, None].astype(window.dtype)], axis=1)


def rollout_normalized(
    model, window: Window, n_steps: int, conditioning: Array | None, target: Target = "state"
) -> Float[Array, "batch time *space channel"]:
    """``n_steps`` predicted normalised frames after ``window``, ``(batch, n_steps, *space, c)``."""

    def step(state: Window) -> Window:
        return advance(state, predict_next(model, state, conditioning, target))

    frames = rollout(step, n_steps, observe=lambda state: state[:, -1])(window)
    return jnp.moveaxis(frames, 0, 1)


def rollout_model(
    model,
    window: Window,
    n_steps: int,
    normalization: Normalization,
    conditioning: Array | None = None,
    target: Target = "state",
) -> Float[Array, "batch time *space channel"]:
    """Autoregressive rollout in physical units.

    Args:
        model: maps ``(batch, *space, h · c)`` (and conditioning) to ``(batch, *space, c)``.
        window: the ground-truth initial window, ``(batch, h, *space, c)``, physical units.
        n_steps: frames to predict.
        normalization: the training split's statistics.
        conditioning: raw per-trajectory parameters ``(batch, p)``, or ``None``.
        target: what the model predicts (see the module docstring).

    Returns:
        ``(batch, n_steps, *space, c)`` predicted frames, physical units.
    """
    if conditioning is not None:
        conditioning = normalization.normalize_parameters(conditioning)
    frames = rollout_normalized(
        model, normalization.normalize(window), n_steps, conditioning, target
    )
    return normalization.denormalize(frames)
