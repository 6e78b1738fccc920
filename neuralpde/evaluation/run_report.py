"""``evaluate_run``: roll out a trained run on a split and write its report.

This is ``neuralpde evaluate RUN_DIR --data PATH``. The data may be another dataset than the
training one, at another resolution (zero-shot super-resolution for resolution-invariant models
such as the FNO), as long as its channels and parameters match the run's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import jax

from neuralpde.data import data_mesh, split_files
from neuralpde.evaluation.evaluate import RolloutEvaluation, evaluate_rollouts
from neuralpde.evaluation.report import write_report
from neuralpde.training.trained_model import load_trained_model


def evaluate_run(
    run_dir: str | Path,
    *,
    data: str | Path | None = None,
    split: str | None = None,
    which: Literal["best", "latest"] = "best",
    n_steps: int | None = None,
    out: str | Path | None = None,
) -> tuple[Path, RolloutEvaluation]:
    """Evaluate the run's best (or latest) checkpoint: the path of ``report.md``, and the result.

    Args:
        run_dir: a training run directory.
        data: dataset directory or file; by default the run's training dataset.
        split: ``train``, ``valid`` or ``test``; by default the run's ``evaluation.split``.
        which: the checkpoint series to load.
        n_steps: frames to predict; by default the run's ``evaluation.n_steps`` (``0``: all).
        out: the report directory; by default ``<run_dir>/evaluation``.
    """
    run_dir = Path(run_dir)
    trained = load_trained_model(run_dir, which)
    config = trained.config
    data = Path(data) if data is not None else Path(config.data.path)
    split = split or config.evaluation.split
    steps = n_steps if n_steps is not None else config.evaluation.n_steps
    files = split_files(data, split)
    began = time.perf_counter()
    model = config.physics.constrained(trained.model, trained.normalization, config.target)
    evaluation = evaluate_rollouts(
        model, trained.normalization, files,
        history=config.data.history, n_steps=steps or None, target=config.target,
        parameters=config.data.parameters, batch_size=config.evaluation.batch_size,
        correction=_correction(config),
        physics=config.physics,
        # Every process evaluates on its own devices; the first writes the report.
        mesh=data_mesh(jax.local_devices()),
    )
    seconds = time.perf_counter() - began
    head = config.physics.variance == "head"
    notes = [
        f"run `{run_dir}`, {which} checkpoint at step {trained.step} of {config.steps}; "
        f"model `{config.model.kind}`, objective `{config.objective.kind}`, loss `{config.loss}`",
        f"data `{data}` split `{split}`: {len(files)} file(s); evaluation took {seconds:.1f} s",
        f"constraint of the model: `{config.physics.constraint}`"
        + (" by ProbConserv's update of its variance head" if head else "")
        + f"; mass correction after every step: `{_correction(config)}`"
        + (" (as trained)" if _correction(config) != config.evaluation.correction else ""),
    ]
    if config.physics.local_constraint != "none":
        notes.append(f"local constraint on every predicted frame: "
                     f"`{config.physics.local_constraint}` over experts "
                     f"{list(config.physics.experts)}")
    title = f"Rollout evaluation: {config.name}"
    out = Path(out) if out else run_dir / "evaluation"
    if jax.process_index() != 0:
        return out / "report.md", evaluation
    return write_report(evaluation, out, title=title, notes=notes), evaluation


def _correction(config) -> str:
    """The mass correction of the run's rollouts: ``hard`` for a run trained with the hard
    mass balance, none for a variance head (its update imposes the law), else the config's."""
    if config.physics.variance == "head" or config.physics.local_constraint != "none":
        return "none"
    if config.physics.constraint == "mass_balance":
        return "hard"
    return config.evaluation.correction
