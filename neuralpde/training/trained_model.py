"""Load a trained model from a run directory: config, statistics and checkpointed parameters."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from flax import nnx

from neuralpde.config import ConfigError, from_yaml
from neuralpde.data import Normalization, load_normalization
from neuralpde.models.registry import build_model
from neuralpde.training.checkpoint import Checkpoints
from neuralpde.training.config import TrainConfig
from neuralpde.training.optimizer import make_optimizer
from neuralpde.training.step import initial_health


@dataclasses.dataclass
class TrainedModel:
    model: nnx.Module
    normalization: Normalization
    config: TrainConfig
    step: int


def load_trained_model(run_dir: str | Path,
                       which: Literal["best", "latest"] = "best") -> TrainedModel:
    """The model of ``run_dir`` with the parameters of its best (or latest) checkpoint.

    Raises ``ConfigError`` if ``run_dir`` is not a run and ``CheckpointError`` if the
    checkpoint is missing or cannot be read.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise ConfigError(f"{run_dir} is not a run directory: no config.yaml")
    config = from_yaml(TrainConfig, run_dir / "config.yaml")
    model = build_model(config.model, rngs=nnx.Rngs(params=config.seed))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    like = {
        "params": params,
        "opt_state": make_optimizer(config.optimizer, config.steps).init(params),
        "health": initial_health(config.batch_size),
    }
    checkpoints = Checkpoints(run_dir, keep=config.keep_checkpoints)
    try:
        state, meta = checkpoints.restore(like, which=which)
    finally:
        checkpoints.close()
    model = nnx.merge(graphdef, state["params"], rest)
    normalization = load_normalization(run_dir / "normalization.yaml")
    return TrainedModel(model, normalization, config, int(meta["step"]))
