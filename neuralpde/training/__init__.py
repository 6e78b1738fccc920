"""Training: objectives, losses, the sharded train step, checkpoints and the loop."""

from neuralpde.training.checkpoint import CheckpointError, Checkpoints
from neuralpde.training.config import DataConfig, EvaluationConfig, TrainConfig
from neuralpde.training.emulator import predict_next, rollout_model
from neuralpde.training.host_memory import reuse_host_memory
from neuralpde.training.loop import TrainingDivergedError, TrainResult, resume, train
from neuralpde.training.losses import LOSSES, h_minus_1, mse, relative_l2
from neuralpde.training.objectives import OBJECTIVES, OneStep, Pushforward, Unrolled
from neuralpde.training.optimizer import OptimizerConfig, make_optimizer
from neuralpde.training.physics_penalty import PhysicsConfig, residual_penalty_for
from neuralpde.training.step import TrainStep
from neuralpde.training.trained_model import TrainedModel, load_trained_model

__all__ = [
    "LOSSES",
    "OBJECTIVES",
    "CheckpointError",
    "Checkpoints",
    "DataConfig",
    "EvaluationConfig",
    "OneStep",
    "OptimizerConfig",
    "PhysicsConfig",
    "Pushforward",
    "TrainConfig",
    "TrainResult",
    "TrainStep",
    "TrainedModel",
    "TrainingDivergedError",
    "Unrolled",
    "h_minus_1",
    "load_trained_model",
    "make_optimizer",
    "mse",
    "predict_next",
    "relative_l2",
    "residual_penalty_for",
    "resume",
    "reuse_host_memory",
    "rollout_model",
    "train",
]
