"""Autoregressive rollout evaluation of a trained emulator over trajectory files.

For every trajectory the ground-truth window of frames ``start … start + h − 1`` seeds a rollout
of ``T`` steps (:func:`neuralpde.training.emulator.rollout_model`), compared frame by frame with
frames ``start + h … start + h + T − 1``. The persistence baseline ``û_{n+k} = u_n`` gets the
same metrics. A model with a variance head (``physics.variance: head``) rolls out its mean,
conditioned on the run's conservation law at every step, and its negative log-likelihood is
reported per lead time. Trajectories are read and rolled out a batch at a time; the last batch
is padded to the same static size (padding dropped afterwards), so one compilation per grid
serves all.
Nothing assumes the training grid: a resolution-invariant model evaluates zero-shot on any grid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from neuralpde._typing import Array, Float
from neuralpde.constraints.constrained_rollout import constrained_rollout
from neuralpde.constraints.mass_budget import MassBudget, read_mass_budget
from neuralpde.data.normalization import Normalization
from neuralpde.evaluation.rollout_metrics import RolloutMetrics, json_safe, trajectory_metrics
from neuralpde.io import TrajectoryFile
from neuralpde.training.emulator import Target, advance, fold_time, predict_next, rollout_model
from neuralpde.training.gaussian_head import rollout_gaussian
from neuralpde.training.local_constraint import local_correction
from neuralpde.training.physics_penalty import PhysicsConfig, recorded_recipe


@dataclasses.dataclass(frozen=True)
class RolloutEvaluation:
    """The result of :func:`evaluate_rollouts` (NumPy throughout).

    Attributes:
        model, persistence: the metrics of the model and of the persistence baseline.
        lead_time: time from the last input frame to each predicted frame ``(T,)``, of the
            first trajectory (all trajectories share it when the files share a time axis).
        examples_truth, examples_prediction: the first trajectories' true and predicted frames
            ``(example, T, *space, channel)``, physical units.
        channel_names, history, start, target, parameters, files, correction: what was
            evaluated.
        nll: for a variance head, the Gaussian negative log-likelihood of the truth per
            predicted frame ``(T,)`` (physical units; mean over trajectories, cells and
            channels), else ``None``.
    """

    model: RolloutMetrics
    persistence: RolloutMetrics
    lead_time: Float[np.ndarray, " time"]
    examples_truth: Float[np.ndarray, "example time *space channel"]
    examples_prediction: Float[np.ndarray, "example time *space channel"]
    channel_names: tuple[str, ...]
    history: int
    start: int
    target: str
    parameters: tuple[str, ...]
    files: tuple[str, ...]
    correction: str = "none"
    nll: Float[np.ndarray, " time"] | None = None

    @property
    def n_steps(self) -> int:
        return self.model.n_steps

    @property
    def n_trajectories(self) -> int:
        return len(self.model.blowup_step)

    def ratios(self) -> dict[str, float]:
        """Model summary over persistence summary, per entry (``nan`` where persistence is 0)."""
        model, persistence = self.model.summary(), self.persistence.summary()
        with np.errstate(divide="ignore", invalid="ignore"):
            return {k: float(np.float64(model[k]) / persistence[k]) for k in model}

    def to_json(self) -> dict:
        """Everything but the example fields, as plain dicts, lists and floats (strict JSON)."""
        return json_safe({
            "files": list(self.files),
            "channel_names": list(self.channel_names),
            "history": self.history,
            "start": self.start,
            "n_steps": self.n_steps,
            "n_trajectories": self.n_trajectories,
            "target": self.target,
            "parameters": list(self.parameters),
            "correction": self.correction,
            "nll": self.nll,
            "lead_time": self.lead_time,
            "model": self.model.to_json(),
            "persistence": self.persistence.to_json(),
            "model_over_persistence": self.ratios(),
        })


def evaluate_rollouts(
    model,
    normalization: Normalization,
    files: str | Path | Sequence[str | Path],
    *,
    history: int,
    n_steps: int | None = None,
    target: Target = "state",
    parameters: Sequence[str] = (),
    batch_size: int = 8,
    mesh: jax.sharding.Mesh | None = None,
    start: int = 0,
    n_examples: int = 2,
    correction: Literal["none", "hard"] = "none",
    physics: PhysicsConfig | None = None,
) -> RolloutEvaluation:
    """Roll out ``model`` from every trajectory of ``files`` and measure it against the truth.

    Args:
        model: ``(batch, *space, h · c)`` (and conditioning ``(batch, p)`` or ``None``) to
            ``(batch, *space, c)``, normalised units: a Flax NNX module (in eval mode, as
            after ``model.eval()``; state changes are discarded) or any callable.
        normalization: the training split's statistics, channels and parameters named.
        files: trajectory files (one path or several), all with the same channels.
        history: input frames ``h``.
        n_steps: predicted frames ``T``; by default as many as every file holds after the window.
        target: ``"state"`` or ``"difference"`` (see :mod:`neuralpde.training.emulator`).
        parameters: per-trajectory scalars fed as conditioning, in ``normalization`` order.
        batch_size: trajectories per rollout (rounded up to a multiple of the mesh's devices).
        mesh: a mesh of local devices with a ``"data"`` axis: trajectories sharded over it,
            model replicated.
        start: first frame of the initial window.
        n_examples: leading trajectories whose fields are kept for figures.
        correction: ``"hard"`` projects every predicted frame onto the file's mass budget
            (the current mass plus the recorded inflow over the step,
            :func:`~neuralpde.constraints.constrained_rollout`); porous-medium files only.
        physics: the run's physics config; with ``variance: head`` the model predicts a
            Gaussian, conditioned on its law at every step (``mass_balance`` reads each file's
            budget), and the result carries its ``nll``; a ``local_constraint`` corrects every
            predicted frame against the equation recorded in the first file.

    Returns:
        A :class:`RolloutEvaluation` of the model and the persistence baseline.
    """
    paths = [Path(files)] if isinstance(files, str | Path) else [Path(f) for f in files]
    parameters = tuple(parameters)
    if not paths:
        raise ValueError("evaluate_rollouts needs at least one file")
    if history < 1 or start < 0 or batch_size < 1 or n_examples < 1:
        raise ValueError(f"need history, batch_size, n_examples ≥ 1 and start ≥ 0; got "
                         f"{history=}, {batch_size=}, {n_examples=}, {start=}")
    if target not in ("state", "difference"):
        raise ValueError(f"unknown target {target!r}; known: ['state', 'difference']")
    if correction not in ("none", "hard"):
        raise ValueError(f"unknown correction {correction!r}; known: ['none', 'hard'] (the "
                         f"probabilistic one needs an ensemble: constrained_rollout)")
    if mesh is not None and "data" not in mesh.axis_names:
        raise ValueError(f"the mesh needs a 'data' axis, has {mesh.axis_names}")
    if mesh is not None and mesh.is_multi_process:
        raise NotImplementedError("evaluate_rollouts reads every trajectory in this process: "
                                  "pass a mesh of this process's devices")
    if parameters != normalization.parameter_names:
        raise ValueError(f"parameters {list(parameters)} differ from the normalisation's "
                         f"{list(normalization.parameter_names)}")
    n_steps, largest = _check_files(paths, normalization, history, n_steps, parameters, start)
    devices = mesh.shape["data"] if mesh is not None else 1
    size = -(-min(batch_size, largest) // devices) * devices
    gaussian = physics.gaussian(normalization, target) if physics is not None else None
    if gaussian is not None and correction != "none":
        raise ValueError("a variance head imposes its own law (physics.constraint); "
                         f"correction must be 'none', got {correction!r}")
    needs_budget = correction != "none" or (
        gaussian is not None and physics.constraint == "mass_balance")
    local = None
    if physics is not None and physics.local_constraint != "none":
        if correction != "none":
            raise ValueError(f"a local constraint corrects the frames itself; correction must be "
                             f"'none', got {correction!r}")
        with TrajectoryFile(paths[0]) as f:
            shape = f.fields(slice(0, 1), slice(0, 1)).shape[2:-1]
        local = local_correction(physics, recorded_recipe(paths[0]), parameters, history, shape)
    run = _Rollouts(model, normalization, history, n_steps, target, mesh, correction, gaussian,
                    local, start)

    chunks, lead_times, examples_truth, examples_prediction = [], [], [], []
    for path in paths:
        budget = read_mass_budget(path) if needs_budget else None
        with TrajectoryFile(path) as f:
            times = np.broadcast_to(f.time, (f.n_trajectories, f.n_time))
            for first in range(0, f.n_trajectories, size):
                rows = slice(first, min(first + size, f.n_trajectories))
                frames = f.fields(rows, slice(start, start + history + n_steps))
                count = len(frames)
                conditioning = np.zeros((count, len(parameters)), np.float32)
                for j, name in enumerate(parameters):
                    conditioning[:, j] = f.scalar(name)[rows]
                inflow = np.zeros((count, history + n_steps), np.float32)
                cell_volume = 1.0
                if budget is not None:
                    inflow = budget.inflow[rows, start : start + history + n_steps]
                    cell_volume = budget.cell_volume
                *values, prediction = run(_pad(frames, size), _pad(conditioning, size),
                                          _pad(inflow.astype(np.float32), size), cell_volume)
                chunks.append(jax.tree.map(lambda a, n=count: a[:n], jax.device_get(values)))
                window_end = times[rows, start + history - 1 : start + history + n_steps]
                lead_times.append(window_end - window_end[:, :1])
                keep = min(n_examples - sum(len(e) for e in examples_truth), count)
                if keep > 0 and (not examples_truth or
                                 frames.shape[2:] == examples_truth[0].shape[2:]):
                    examples_truth.append(frames[:keep, history:])
                    examples_prediction.append(jax.device_get(prediction)[:keep])

    model_values, persistence_values, nll = jax.tree.map(lambda *a: np.concatenate(a), *chunks)
    lead_time = np.concatenate(lead_times).astype(np.float64)
    return RolloutEvaluation(
        model=RolloutMetrics.from_trajectories(model_values, lead_time),
        persistence=RolloutMetrics.from_trajectories(persistence_values, lead_time),
        lead_time=lead_time[0, 1:],
        examples_truth=np.concatenate(examples_truth),
        examples_prediction=np.concatenate(examples_prediction),
        channel_names=normalization.channel_names,
        history=history,
        start=start,
        target=target,
        parameters=parameters,
        files=tuple(str(p) for p in paths),
        correction=correction,
        nll=np.mean(nll, axis=0).astype(np.float64) if gaussian is not None else None,
    )


def _check_files(paths, normalization, history, n_steps, parameters, start) -> tuple[int, int]:
    """The horizon ``T`` and the most trajectories in one file, after checking every file."""
    available, largest = [], 0
    for path in paths:
        with TrajectoryFile(path) as f:
            channels = tuple(f.channel_names())
            if channels != normalization.channel_names:
                raise ValueError(f"{path}: channels {list(channels)} differ from the "
                                 f"normalisation's {list(normalization.channel_names)}")
            for name in parameters:
                if name not in f.scalar_names:
                    raise ValueError(f"{path}: no parameter {name!r}; scalars: {f.scalar_names}")
                if np.shape(f.scalar(name)) != (f.n_trajectories,):
                    raise ValueError(f"{path}: parameter {name!r} has shape "
                                     f"{np.shape(f.scalar(name))}, not (n_trajectories,)")
            if start + history + 1 > f.n_time:
                raise ValueError(f"{path}: a rollout from a window of frames {start}…"
                                 f"{start + history - 1} (history={history}) needs at least "
                                 f"{start + history + 1} frames; the file has {f.n_time}")
            available.append(f.n_time - start - history)
            largest = max(largest, f.n_trajectories)
    if n_steps is None:
        return min(available), largest
    if not 1 <= n_steps <= min(available):
        raise ValueError(f"n_steps={n_steps} must be in 1…{min(available)}: the frames after "
                         f"the initial window in the shortest file")
    return n_steps, largest


def _pad(batch: np.ndarray, size: int) -> np.ndarray:
    """Pad the leading axis to ``size`` by repeating the last entry (finite, dropped later)."""
    return np.pad(batch, [(0, size - len(batch))] + [(0, 0)] * (batch.ndim - 1), mode="edge")


class _Rollouts:
    """``(frames, conditioning) -> (model metrics, persistence metrics, prediction)`` for a batch.

    ``frames`` ``(batch, h + T, *space, c)`` physical, ``conditioning`` ``(batch, p)``. One
    ``jit`` per grid; an NNX model enters as ``nnx.split`` state, so it is an argument (placed
    replicated) and not a baked-in constant. With a mesh each device rolls out its own slice of
    the batch under ``shard_map``: under plain ``jit`` XLA may gather the batch around FFTs.
    """

    def __init__(self, model, normalization, history, n_steps, target, mesh, correction="none",
                 gaussian=None, local=None, start=0):
        graphdef, state = nnx.split(model) if isinstance(model, nnx.Module) else (None, None)

        def batch(state, normalization, frames, conditioning, inflow, cell_volume):
            net = model if graphdef is None else nnx.merge(graphdef, state)
            window, truth = frames[:, :history], frames[:, history:]
            raw = {"conditioning": conditioning,
                   "start": jnp.full(conditioning.shape[:1], start, jnp.int32)}
            conditioning = conditioning if conditioning.shape[-1] else None
            nll = jnp.zeros(truth.shape[:2], truth.dtype)
            if local is not None:
                _check_output(net, normalization, window, conditioning)
                prediction = _corrected_rollout(local(raw, normalization), net, normalization,
                                                window, truth.shape[1], conditioning, target)
            elif gaussian is not None:
                prediction, nll = _gaussian_rollout(gaussian, net, normalization, window, truth,
                                                    conditioning, inflow[:, history:],
                                                    cell_volume)
            elif correction == "none":
                _check_output(net, normalization, window, conditioning)
                prediction = rollout_model(net, window, n_steps, normalization, conditioning,
                                           target)
            else:
                _check_output(net, normalization, window, conditioning)
                budget = MassBudget(cell_volume, jnp.zeros_like(inflow), inflow)
                prediction = constrained_rollout(
                    net, window, budget, normalization, correction=correction, n_steps=n_steps,
                    conditioning=conditioning, target=target).mean
            persistence = jnp.broadcast_to(window[:, -1:], truth.shape)
            # One vmapped trace for both predictors halves the compile time of the metrics.
            both = jax.vmap(trajectory_metrics, in_axes=(0, None))(
                jnp.stack([prediction, persistence.astype(prediction.dtype)]), truth)
            return jax.tree.map(lambda a: a[0], both), jax.tree.map(lambda a: a[1], both), nll, \
                prediction

        self.data = None
        if mesh is not None:
            self.data = NamedSharding(mesh, P("data"))
            batch = jax.shard_map(batch, mesh=mesh,
                                  in_specs=(P(), P(), P("data"), P("data"), P("data"), P()),
                                  out_specs=P("data"))
            state, normalization = jax.device_put((state, normalization),
                                                  NamedSharding(mesh, P()))
        self.function = jax.jit(batch)
        self.constants = (state, normalization)

    def __call__(self, frames: np.ndarray, conditioning: np.ndarray, inflow: np.ndarray,
                 cell_volume: float = 1.0):
        if self.data is not None:
            frames, conditioning, inflow = jax.device_put((frames, conditioning, inflow),
                                                          self.data)
        return self.function(*self.constants, frames, conditioning, inflow,
                             np.float32(cell_volume))


def _corrected_rollout(correct, net, normalization, window, n_steps, conditioning, target):
    """Physical frames ``(batch, T, *space, c)``, each corrected by ``correct(frame, window, i)``
    before the rollout continues from it."""
    if conditioning is not None:
        conditioning = normalization.normalize_parameters(conditioning)

    def step(state, i):
        frame = correct(predict_next(net, state, conditioning, target), state, i)
        return advance(state, frame), frame

    _, frames = jax.lax.scan(step, normalization.normalize(window), jnp.arange(n_steps))
    return normalization.denormalize(jnp.moveaxis(frames, 0, 1)).astype(window.dtype)


def _gaussian_rollout(gaussian, net, normalization, window, truth, conditioning, inflow,
                      cell_volume):
    """The mean rollout of a variance head in physical units, and its NLL ``(batch, T)``."""
    if conditioning is not None:
        conditioning = normalization.normalize_parameters(conditioning)
    budget = {"inflow": inflow, "cell_volume": jnp.broadcast_to(cell_volume, inflow.shape[:1])}
    predict = gaussian(net, conditioning, budget)
    frames = rollout_gaussian(predict, normalization.normalize(window), truth.shape[1])
    std = jnp.asarray(normalization.std, truth.dtype)
    mean = normalization.denormalize(frames.mean).astype(truth.dtype)
    variance = frames.variance.astype(truth.dtype) * std**2
    space = tuple(range(2, truth.ndim))
    nll = 0.5 * jnp.mean(jnp.log(2 * jnp.pi * variance) + jnp.square(truth - mean) / variance,
                         axis=space)
    return mean, nll


def _check_output(
    net, normalization: Normalization, window: Float[Array, "batch history *space channel"],
    conditioning: Array | None,
) -> None:
    """Raise if the model's output frame cannot continue the rollout (shapes only, no FLOPs)."""
    out = jax.eval_shape(lambda w, c: net(fold_time(normalization.normalize(w)), c), window,
                         conditioning)
    expected = window.shape[:1] + window.shape[2:]
    if out.shape[-1] != expected[-1]:
        raise ValueError(f"model predicts {out.shape[-1]} channels, data has {expected[-1]} "
                         f"({list(normalization.channel_names)})")
    if out.shape != expected:
        raise ValueError(f"model output {out.shape} does not match a frame {expected}")
