"""The frozen, YAML round-tripping config of a training run."""

from __future__ import annotations

import dataclasses
from typing import Literal

from neuralpde.config import ConfigError
from neuralpde.models.registry import ModelConfig
from neuralpde.training.objectives import ObjectiveConfig, OneStep
from neuralpde.training.optimizer import OptimizerConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Where the trajectories are and how they are cut into windows.

    ``path`` is a dataset directory ``<root>/<name>`` holding ``data/{train,valid,test}/``
    (ours or The Well's). ``history`` frames go in; ``parameters`` names per-trajectory scalars
    (e.g. ``viscosity``) for conditioning; ``stride`` spaces window starts.
    """

    path: str
    history: int = 10
    parameters: tuple[str, ...] = ()
    stride: int = 1
    num_threads: int = 2
    prefetch: int = 4

    def __post_init__(self):
        if self.history < 1 or self.stride < 1:
            raise ConfigError(f"data: history and stride must be ≥ 1, got {self}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvaluationConfig:
    """Rollout evaluation after training (``neuralpde evaluate`` takes the same settings)."""

    split: Literal["train", "valid", "test"] = "test"
    n_steps: int = 0
    """Frames to predict after the initial window; ``0`` runs to each trajectory's end."""
    batch_size: int = 8


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One training run: data, model, objective, loss, optimiser and bookkeeping.

    ``target`` says what the model predicts (``state`` or ``difference``, see
    :mod:`neuralpde.training.emulator`); ``batch_size`` is global, split over all devices.
    """

    name: str = "run"
    data: DataConfig
    model: ModelConfig
    objective: ObjectiveConfig = dataclasses.field(default_factory=OneStep)
    loss: Literal["mse", "relative_l2", "h_minus_1"] = "mse"
    target: Literal["state", "difference"] = "state"
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    steps: int = 1000
    batch_size: int = 16
    seed: int = 0
    log_every: int = 25
    eval_every: int = 250
    eval_batches: int = 8
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)

    def __post_init__(self):
        for name in ("steps", "batch_size", "log_every", "eval_every", "eval_batches",
                     "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train: {name} must be ≥ 1, got {getattr(self, name)}")
        if self.checkpoint_every % self.log_every:
            raise ConfigError(
                f"train: checkpoint_every ({self.checkpoint_every}) must be a multiple of "
                f"log_every ({self.log_every}), so that a resumed run's log lines up"
            )
