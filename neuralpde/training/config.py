"""The frozen, YAML round-tripping config of a training run."""

from __future__ import annotations

import dataclasses
from typing import Literal

from neuralpde.config import ConfigError
from neuralpde.models.registry import ModelConfig
from neuralpde.training.objectives import ObjectiveConfig, OneStep
from neuralpde.training.optimizer import OptimizerConfig
from neuralpde.training.physics_penalty import PhysicsConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Where the trajectories are and how they are cut into windows.

    ``path`` is a dataset directory ``<root>/<name>`` holding ``data/{train,valid,test}/``
    (ours or The Well's). ``history`` frames go in; ``parameters`` names per-trajectory scalars
    (e.g. ``viscosity``) for conditioning; ``stride`` spaces window starts.

    ``source: online`` trains on trajectories that the generator of ``recipe`` (a recipe name
    or YAML path) makes during training, never stored (:mod:`neuralpde.data.online_batches`):
    a buffer of ``buffer_size`` trajectories stays on the devices and ``refresh_fraction`` of it
    is replaced every ``refresh_every`` steps. ``path`` then needs only the ``valid`` (and, for
    evaluation, ``test``) split, written once by ``neuralpde generate`` with the same recipe.
    """

    path: str
    history: int = 10
    parameters: tuple[str, ...] = ()
    stride: int = 1
    num_threads: int = 2
    prefetch: int = 4
    source: Literal["files", "online"] = "files"
    recipe: str | None = None
    buffer_size: int = 64
    refresh_every: int = 10
    refresh_fraction: float = 0.125

    def __post_init__(self):
        if self.history < 1 or self.stride < 1:
            raise ConfigError(f"data: history and stride must be ≥ 1, got {self}")
        if self.source not in ("files", "online"):
            raise ConfigError(f"data: source must be 'files' or 'online', got {self.source!r}")
        if self.source == "files" and self.recipe is not None:
            raise ConfigError("data: a recipe is used only with source: online (files are read "
                              f"from path {self.path!r}); drop recipe or set source: online")
        if self.source == "online":
            if not self.recipe:
                raise ConfigError("data: source: online needs a generator recipe (data.recipe, a "
                                  "name in datasets/ or a YAML path)")
            if self.buffer_size < 1 or self.refresh_every < 1:
                raise ConfigError(f"data: buffer_size and refresh_every must be ≥ 1, got "
                                  f"{self.buffer_size} and {self.refresh_every}")
            if not 0 < self.refresh_fraction <= 1:
                raise ConfigError(f"data: refresh_fraction must be in (0, 1], got "
                                  f"{self.refresh_fraction}")
            size = self.refresh_fraction * self.buffer_size
            if abs(size - round(size)) > 1e-9 or self.buffer_size % round(size):
                raise ConfigError(
                    f"data: refresh_fraction {self.refresh_fraction} of buffer_size "
                    f"{self.buffer_size} is {size:g} trajectories: it must be a whole number "
                    f"that divides the buffer size"
                )

    @property
    def refresh_size(self) -> int:
        """Trajectories generated per refresh."""
        return round(self.refresh_fraction * self.buffer_size)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvaluationConfig:
    """Rollout evaluation after training (``neuralpde evaluate`` takes the same settings)."""

    split: Literal["train", "valid", "test"] = "test"
    n_steps: int = 0
    """Frames to predict after the initial window; ``0`` runs to each trajectory's end."""
    batch_size: int = 8
    correction: Literal["none", "hard"] = "none"
    """``hard``: project every predicted frame onto the file's mass budget (porous medium)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One training run: data, model, objective, loss, optimiser and bookkeeping.

    ``target`` says what the model predicts (``state`` or ``difference``, see
    :mod:`neuralpde.training.emulator`); ``physics`` adds a soft PDE-residual penalty
    (:mod:`neuralpde.training.physics_penalty`); ``batch_size`` is global, split over all
    devices.
    """

    name: str = "run"
    data: DataConfig
    model: ModelConfig
    objective: ObjectiveConfig = dataclasses.field(default_factory=OneStep)
    loss: Literal["mse", "relative_l2", "h_minus_1", "gaussian_nll"] = "mse"
    target: Literal["state", "difference"] = "state"
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    physics: PhysicsConfig = dataclasses.field(default_factory=PhysicsConfig)
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
        head = self.physics.variance == "head"
        if head != (self.loss == "gaussian_nll"):
            raise ConfigError(
                f"train: loss {self.loss!r} with physics.variance {self.physics.variance!r}: a "
                f"variance head is trained by loss: gaussian_nll, and only it can be"
            )
        if self.checkpoint_every % self.log_every:
            raise ConfigError(
                f"train: checkpoint_every ({self.checkpoint_every}) must be a multiple of "
                f"log_every ({self.log_every}), so that a resumed run's log lines up"
            )
