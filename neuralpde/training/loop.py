"""``train(config, run_dir)``: from trajectory files to checkpoints and a loss curve.

The run directory holds everything needed to resume, evaluate and reproduce the run::

    config.yaml          the resolved config        provenance.json  version, git revision, devices
    normalization.yaml   the training statistics    metrics.jsonl    per-step records (run_log)
    checkpoints/, best/  orbax checkpoints          tensorboard/     event files

Every random draw derives from ``config.seed``: the parameters from ``key(seed)``, the data
order from the loader's seed, and step ``s``'s noise from ``fold_in(key(seed), s)``. With the
loader state in the checkpoint, a resumed run repeats the uninterrupted run's steps exactly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from neuralpde._provenance import git_revision, package_version
from neuralpde.config import ConfigError, from_yaml, to_yaml
from neuralpde.data import (
    DataError,
    OnlineBatches,
    ShardedBatches,
    TrajectoryWindows,
    data_mesh,
    load_normalization,
    normalization_for,
    save_normalization,
    split_files,
)
from neuralpde.datagen.recipes import load_recipe
from neuralpde.models.registry import build_model
from neuralpde.training.checkpoint import Checkpoints
from neuralpde.training.config import TrainConfig
from neuralpde.training.local_constraint import local_correction
from neuralpde.training.mass_balance import mass_balance_correction
from neuralpde.training.online_source import online_stream
from neuralpde.training.optimizer import learning_rate_schedule, make_optimizer
from neuralpde.training.physics_penalty import recorded_recipe, residual_penalty_for
from neuralpde.training.run_log import RunLog, read_log
from neuralpde.training.step import TrainStep, initial_health, make_validation_loss


class TrainingDivergedError(RuntimeError):
    """The loss or gradient became NaN/Inf; the message names the step and trajectories."""


@dataclasses.dataclass
class TrainResult:
    run_dir: Path
    steps: int
    final_loss: float
    valid_loss: float
    seconds: float


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def check_model_fits(model, windows: TrajectoryWindows, config: TrainConfig) -> None:
    """Raise a ``ConfigError`` naming both sides if the data's shape does not fit the model."""
    c, h, p = len(windows.channel_names), windows.history, len(windows.parameters)
    problems = []
    if config.model.in_channels != h * c:
        problems.append(f"in_channels={config.model.in_channels} but history {h} × "
                        f"{c} channels {list(windows.channel_names)} = {h * c}")
    factor = config.physics.output_factor
    if config.model.out_channels != factor * c:
        problems.append(f"out_channels={config.model.out_channels} but the data has {c} channels"
                        + (" (times 2 for the variance head)" if factor == 2 else ""))
    if getattr(config.model, "n_conditioning", p) != p:
        problems.append(f"n_conditioning={config.model.n_conditioning} but {p} parameters "
                        f"{list(windows.parameters)} are requested")
    if not problems:
        x = jax.ShapeDtypeStruct((1, *windows.spatial_shape, h * c), jnp.float32)
        cond = jax.ShapeDtypeStruct((1, p), jnp.float32) if p else None
        try:
            jax.eval_shape(lambda u, q: model(u, q), x, cond)
        except (ValueError, TypeError) as error:
            problems.append(str(error))
    if problems:
        raise ConfigError(
            f"the dataset {config.data.path} (grid {windows.spatial_shape}) does not fit the "
            f"model {config.model.kind}: " + "; ".join(problems)
        )


def _recipe_of(data, windows: TrajectoryWindows):
    """The recipe of the training data: the online one, or the one the files record."""
    return load_recipe(data.recipe) if data.source == "online" else recorded_recipe(
        windows.files[0])


def _provenance() -> dict:
    return {
        "package_version": package_version(),
        "git_revision": git_revision(),
        "jax_version": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "process_count": jax.process_count(),
        "python": platform.python_version(),
    }


def train(config: TrainConfig, run_dir: str | Path, *, resume: bool = False,
          progress: bool = True, devices=None) -> TrainResult:
    """Train ``config`` into ``run_dir``; with ``resume``, go on from its latest checkpoint.

    The batch is sharded over ``devices`` (default: every device JAX sees, on every host).

    Raises ``ConfigError`` for a model that does not fit the data or a used run directory,
    ``DataError`` for missing, empty or NaN data, and :class:`TrainingDivergedError`.
    """
    run_dir = Path(run_dir)
    if (run_dir / "checkpoints").exists() and not resume:
        raise ConfigError(f"{run_dir} already holds a run; resume it with --resume or pick "
                          f"another directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    if jax.process_index() == 0:
        _write_atomic(run_dir / "config.yaml", to_yaml(config))
        _write_atomic(run_dir / "provenance.json", json.dumps(_provenance(), indent=2))

    data = config.data
    horizon = config.objective.max_steps
    budget = config.physics.constraint == "mass_balance"
    valid = TrajectoryWindows(split_files(data.path, "valid"), history=data.history, future=1,
                              parameters=data.parameters, stride=data.stride,
                              mass_budget=budget)
    if data.source == "online":
        windows = valid  # the stored data the stream must match; the stream itself is below
    else:
        windows = TrajectoryWindows(split_files(data.path, "train"), history=data.history,
                                    future=horizon, parameters=data.parameters,
                                    stride=data.stride, mass_budget=budget)
    model = build_model(config.model, rngs=nnx.Rngs(params=config.seed))
    check_model_fits(model, windows, config)

    mesh = data_mesh(devices)
    replicated = NamedSharding(mesh, PartitionSpec())
    loader_options = dict(num_threads=data.num_threads, prefetch=data.prefetch, mesh=mesh)
    saved_normalization = run_dir / "normalization.yaml"
    if data.source == "online":
        batches = OnlineBatches(online_stream(data, valid, horizon, mass_budget=budget),
                                config.batch_size, mesh=mesh, seed=config.seed)
        if resume and saved_normalization.exists():
            normalization = load_normalization(saved_normalization)
        else:
            normalization = batches.warm_up_normalization(valid.channel_names, valid.parameters)
    else:
        batches = ShardedBatches(windows, batch_size=config.batch_size, seed=config.seed,
                                 shuffle=True, repeat=True, **loader_options)
        normalization = normalization_for(windows.files, data.parameters)
    if jax.process_index() == 0:
        save_normalization(normalization, saved_normalization)

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = make_optimizer(config.optimizer, config.steps)
    state = jax.device_put(
        {"params": params, "opt_state": tx.init(params),
         "health": initial_health(config.batch_size)},
        replicated,
    )
    normalization = jax.device_put(normalization, replicated)
    checkpoints = Checkpoints(run_dir, keep=config.keep_checkpoints)
    source = _describe_source(data, windows)
    start = 0
    if resume and checkpoints.latest_step() is not None:
        state, meta = checkpoints.restore(state)
        start = int(meta["step"])
        batches.set_state(meta["loader"])

    penalty = None
    if config.physics.residual_weight > 0:
        recipe = _recipe_of(data, windows)
        penalty = residual_penalty_for(recipe, config.physics.residual_weight,
                                       tuple(data.parameters), data.history, normalization)
    def constrain(net):
        return config.physics.constrained(net, normalization, config.target)

    constrain(model)  # an unknown channel fails here, before any step
    correction = None
    if budget:
        if len(windows.channel_names) != 1:
            raise ConfigError(f"physics.constraint: mass_balance constrains one channel; the "
                              f"data has {list(windows.channel_names)}")
        correction = mass_balance_correction if config.physics.variance == "none" else None
    if config.physics.local_constraint != "none":
        correction = local_correction(config.physics, _recipe_of(data, windows),
                                      tuple(data.parameters), data.history,
                                      windows.spatial_shape)
    gaussian = config.physics.gaussian
    gaussian(normalization, config.target)  # an unknown channel fails here, before any step
    train_step = TrainStep(graphdef, rest, tx, config.objective, config.loss, config.target,
                           config.seed, replicated, penalty, constrain, correction, gaussian)
    validation_loss = make_validation_loss(graphdef, rest, config.target, replicated, constrain,
                                           correction, gaussian)
    schedule = learning_rate_schedule(config.optimizer, config.steps)
    log = RunLog(run_dir, config.steps, start, progress=progress,
                 enabled=jax.process_index() == 0)

    def validate() -> float:
        valid_batches = ShardedBatches(valid, batch_size=config.batch_size, seed=config.seed,
                                       shuffle=True, repeat=True, **loader_options)
        losses = [validation_loss(state["params"], next(valid_batches), normalization)
                  for _ in range(config.eval_batches)]
        loss = float(np.mean(jax.device_get(losses)))
        if not np.isfinite(loss):
            raise DataError(f"the validation loss is {loss}: check the valid split of "
                            f"{data.path} for NaN or extreme values")
        return loss

    pending: list[tuple[int, dict]] = []
    last_loss, valid_loss = float("nan"), float("nan")
    if start:
        valid_loss = float(meta["valid_loss"])
        last_loss = next((r["loss"] for r in reversed(read_log(run_dir)) if "loss" in r), last_loss)
    began = time.perf_counter()
    try:
        for step in range(start, config.steps):
            length = config.objective.rollout_length(step, config.steps)
            params, opt_state, health, metrics = train_step(
                state["params"], state["opt_state"], state["health"], next(batches),
                normalization, jnp.asarray(step, jnp.int32), length,
            )
            state = {"params": params, "opt_state": opt_state, "health": health}
            pending.append((step, metrics))
            done = step + 1
            if done % config.log_every == 0 or done == config.steps:
                last_loss = _flush(pending, state["health"], schedule, log, source)
                if isinstance(batches, OnlineBatches):
                    log.write([{"step": s, "generated_first": first, "generated_count": n}
                               for s, first, n in batches.take_generated()])
                pending = []
            if done % config.eval_every == 0 or done == config.steps:
                valid_loss = validate()
                log.write([{"step": step, "valid_loss": valid_loss}])
                meta = {"step": done, "loader": batches.get_state(), "valid_loss": valid_loss}
                checkpoints.save_best(done, state, meta, valid_loss)
            if done % config.checkpoint_every == 0 or done == config.steps:
                meta = {"step": done, "loader": batches.get_state(), "valid_loss": valid_loss}
                checkpoints.save(done, state, meta)
    finally:
        log.close()
        checkpoints.close()
    return TrainResult(run_dir, config.steps, last_loss, valid_loss, time.perf_counter() - began)


def _describe_source(data, windows: TrajectoryWindows) -> str:
    if data.source == "online":
        return (f"online trajectories (train-split indices of recipe {data.recipe!r}, which "
                f"regenerates them)")
    return f"training trajectories of {[str(f) for f in windows.files]}"


def _flush(pending, health, schedule, log: RunLog, source: str) -> float:
    """Fetch the pending steps' metrics in one transfer, check health, and log them."""
    steps = [s for s, _ in pending]
    metrics, health = jax.device_get(([m for _, m in pending], health))
    bad_step = int(health["bad_step"])
    if bad_step >= 0:
        trajectories = sorted({int(t) for t in health["bad_trajectories"] if t >= 0})
        raise TrainingDivergedError(
            f"the loss or gradient became non-finite at step {bad_step} (that update was "
            f"skipped); the batch held trajectories {trajectories}, {source}. Lower the "
            f"learning rate, check those "
            f"trajectories, or resume from the last checkpoint."
        )
    rates = np.asarray(schedule(np.asarray(steps)))
    records = [
        {"step": s, "loss": float(m["loss"]), "grad_norm": float(m["grad_norm"]),
         "learning_rate": float(lr)} | ({"penalty": float(m["penalty"])} if "penalty" in m else {})
        for s, m, lr in zip(steps, metrics, rates, strict=True)
    ]
    log.write(records)
    log.advance(len(records), loss=records[-1]["loss"])
    return records[-1]["loss"]


def resume(run_dir: str | Path, *, progress: bool = True) -> TrainResult:
    """Resume the run in ``run_dir`` with its own ``config.yaml``."""
    config_path = Path(run_dir) / "config.yaml"
    if not config_path.exists():
        raise ConfigError(f"{run_dir} is not a run directory: no config.yaml")
    return train(from_yaml(TrainConfig, config_path), run_dir, resume=True, progress=progress)
