"""Training objectives for autoregressive emulators, as configs plus one loss function.

All work on a normalised batch: ``window (batch, h, *space, c)``, ``future (batch, f, *space, c)``
(the next ``f ≥ k`` true frames) and optional ``conditioning (batch, p)``.

- ``one_step`` (teacher forcing): ``L(F(w), u₁)``.
- ``pushforward`` (Brandstetter, Worrall, Welling 2022, "Message passing neural PDE solvers"):
  draw ``r ∈ {0, …, k−1}``, roll ``r`` steps without gradient, then ``L(F(w_r), u_{r+1})``; the
  model learns to correct the distribution shift of its own rollouts at one-step cost.
- ``unrolled``: ``(1/k) Σ_{i=1..k} L(F(w_{i−1}), u_i)`` with ``w_i`` built from the model's own
  predictions and backpropagation through the whole rollout, or cut every ``truncate`` steps
  (truncated BPTT; e.g. trainax's "diverted chain" with ``truncate = 1``).

Every objective may add Gaussian noise of standard deviation ``noise_std`` (normalised units) to
the input window (Sanchez-Gonzalez et al. 2020), and ``pushforward``/``unrolled`` may follow a
curriculum: the rollout length ``k`` steps through ``curriculum`` in equal parts of training.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp

from neuralpde.config import ConfigError
from neuralpde.training.emulator import Target, advance, predict_next
from neuralpde.training.losses import Loss


def _check_lengths(name: str, steps: int, curriculum: tuple[int, ...]) -> None:
    if steps < 1 or any(k < 1 for k in curriculum):
        raise ConfigError(f"{name}: rollout lengths must be ≥ 1, got {steps=} {curriculum=}")
    if curriculum and max(curriculum) != steps:
        raise ConfigError(f"{name}: the curriculum {curriculum} must end at steps={steps}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class OneStep:
    kind: Literal["one_step"] = "one_step"
    noise_std: float = 0.0

    def __post_init__(self):
        if self.noise_std < 0:
            raise ConfigError(f"one_step: noise_std must be ≥ 0, got {self.noise_std}")

    @property
    def max_steps(self) -> int:
        return 1

    def rollout_length(self, step: int, total: int) -> int:
        return 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Multistep:
    steps: int = 2
    curriculum: tuple[int, ...] = ()
    noise_std: float = 0.0

    def __post_init__(self):
        _check_lengths(self.kind, self.steps, self.curriculum)
        if self.noise_std < 0:
            raise ConfigError(f"{self.kind}: noise_std must be ≥ 0, got {self.noise_std}")

    @property
    def max_steps(self) -> int:
        return self.steps

    def rollout_length(self, step: int, total: int) -> int:
        """``k`` at training step ``step`` of ``total``: the curriculum in equal parts."""
        if not self.curriculum:
            return self.steps
        phase = min(step * len(self.curriculum) // max(total, 1), len(self.curriculum) - 1)
        return self.curriculum[phase]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Pushforward(_Multistep):
    kind: Literal["pushforward"] = "pushforward"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Unrolled(_Multistep):
    kind: Literal["unrolled"] = "unrolled"
    truncate: int = 0
    """Cut the gradient every ``truncate`` steps; ``0`` backpropagates through the whole rollout."""

    def __post_init__(self):
        super().__post_init__()
        if self.truncate < 0:
            raise ConfigError(f"unrolled: truncate must be ≥ 0, got {self.truncate}")


ObjectiveConfig = OneStep | Pushforward | Unrolled
OBJECTIVES = {"one_step": OneStep, "pushforward": Pushforward, "unrolled": Unrolled}


def objective_loss(
    model,
    window,
    future,
    conditioning,
    *,
    objective: ObjectiveConfig,
    length: int,
    loss: Loss,
    target: Target,
    key: jax.Array,
    correct=None,
    gaussian=None,
):
    """The objective's scalar loss for one normalised batch (see the module docstring).

    ``length`` is the rollout length ``k`` (static); ``key`` drives noise and ``r``.
    ``correct(frame, window, i)``, if given, replaces every predicted normalised frame by a
    corrected one (a hard constraint), ``i`` the index of the predicted future frame.
    ``gaussian(window, i)``, if given, predicts frame ``i`` as a
    :class:`~neuralpde.training.gaussian_head.GaussianFrame` in place of ``model`` (a variance
    head): its mean continues the rollout and ``loss(gaussian_frame, truth)`` scores it.
    """
    if future.shape[1] < length:
        raise ValueError(f"rollout length {length} needs {length} future frames: {future.shape}")
    noise_key, unroll_key = jax.random.split(key)
    if objective.noise_std > 0:
        noise = jax.random.normal(noise_key, window.shape, window.dtype)
        window = window + objective.noise_std * noise

    def step(w, i):
        if gaussian is not None:
            return gaussian(w, i)
        frame = predict_next(model, w, conditioning, target)
        return frame if correct is None else correct(frame, w, i)

    def mean(prediction):
        return prediction if gaussian is None else prediction.mean

    if isinstance(objective, OneStep):
        return loss(step(window, 0), future[:, 0])
    if isinstance(objective, Pushforward):
        r = jax.random.randint(unroll_key, (), 0, length)
        unrolled = jax.lax.fori_loop(0, r, lambda i, w: advance(w, mean(step(w, i))), window)
        unrolled = jax.lax.stop_gradient(unrolled)
        return loss(step(unrolled, r), jnp.take(future, r, axis=1))
    if isinstance(objective, Unrolled):

        def body(w, inputs):
            i, truth = inputs
            pred = step(w, i)
            w = advance(w, mean(pred))
            if objective.truncate:
                w = jnp.where((i + 1) % objective.truncate == 0, jax.lax.stop_gradient(w), w)
            return w, loss(pred, truth)

        truths = jnp.moveaxis(future[:, :length], 1, 0)
        _, losses = jax.lax.scan(body, window, (jnp.arange(length), truths))
        return jnp.mean(losses)
    raise ConfigError(f"unknown objective {objective!r}; known: {sorted(OBJECTIVES)}")
