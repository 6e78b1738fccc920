"""Checkpoints with orbax: the latest few for resuming, and the best by validation loss.

A checkpoint holds the trainable parameters, the optimiser state, the health record, and, as
JSON, the step, the data iterator's state and the validation loss. orbax writes each step to a
temporary directory and renames it when complete, so a ``kill -9`` mid-save leaves the previous
checkpoint as the latest one.

    <run>/checkpoints/<step>/   the latest ``keep`` checkpoints
    <run>/best/<step>/          the one with the lowest validation loss
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read back; the message names it."""


def _manager(directory: Path, *, keep: int, best: bool) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep,
        best_fn=(lambda metrics: metrics["valid_loss"]) if best else None,
        best_mode="min",
        keep_checkpoints_without_metrics=not best,
        enable_async_checkpointing=False,
        cleanup_tmp_directories=True,
    )
    return ocp.CheckpointManager(directory.absolute(), options=options)


class Checkpoints:
    """The run's two checkpoint series (see the module docstring)."""

    def __init__(self, run_dir: str | Path, keep: int = 2):
        run_dir = Path(run_dir)
        self.latest = _manager(run_dir / "checkpoints", keep=keep, best=False)
        self.best = _manager(run_dir / "best", keep=1, best=True)

    def save(self, step: int, state: dict[str, Any], meta: dict[str, Any]) -> None:
        """Save ``state`` (a PyTree of arrays) and ``meta`` (JSON) as step ``step``."""
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        self.latest.save(step, args=args, force=True)

    def save_best(self, step: int, state: dict[str, Any], meta: dict[str, Any], valid_loss: float):
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        self.best.save(step, args=args, metrics={"valid_loss": float(valid_loss)}, force=True)

    def latest_step(self) -> int | None:
        return self.latest.latest_step()

    def restore(self, like: dict[str, Any], which: str = "latest", step: int | None = None):
        """``(state, meta)`` of a checkpoint, with ``like``'s shapes, dtypes and shardings.

        ``which`` is ``"latest"`` or ``"best"``; ``step`` defaults to its newest (or best) step.
        """
        manager = self.latest if which == "latest" else self.best
        step = step if step is not None else (
            manager.latest_step() if which == "latest" else manager.best_step()
        )
        if step is None:
            raise CheckpointError(f"no {which} checkpoint in {manager.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        args = ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
        )
        try:
            restored = manager.restore(step, args=args)
        except Exception as error:  # orbax raises many types for a damaged directory
            raise CheckpointError(
                f"checkpoint {manager.directory / str(step)} cannot be restored (corrupt or "
                f"incomplete, or from another model): {type(error).__name__}: {error}"
            ) from error
        return restored["state"], restored["meta"]

    def close(self) -> None:
        self.latest.close()
        self.best.close()
