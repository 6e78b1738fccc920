"""What a run reports as it goes: a progress bar, ``metrics.jsonl`` and TensorBoard events.

``metrics.jsonl`` has one JSON record per line: ``{"step", "loss", "grad_norm",
"learning_rate"}`` for every training step and ``{"step", "valid_loss"}`` for every validation.
A resumed run first drops the records at or after its restart step, so the file of an
interrupted-and-resumed run reads like that of an uninterrupted one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tensorboardX import SummaryWriter
from tqdm.auto import tqdm


class RunLog:
    """Append-only run log, started at ``start_step`` (``0``, or the step a resume restarts at).

    Only one process of a multi-host run writes (``enabled``); the others' calls do nothing.
    """

    def __init__(self, run_dir: str | Path, total_steps: int, start_step: int = 0,
                 progress: bool = True, enabled: bool = True):
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.jsonl"
        if not enabled:
            return
        self._truncate(start_step)
        self.file = self.path.open("a")
        self.tensorboard = SummaryWriter(str(Path(run_dir) / "tensorboard"), purge_step=start_step)
        self.bar = tqdm(total=total_steps, initial=start_step, disable=not progress,
                        unit="step", dynamic_ncols=True)

    def _truncate(self, start_step: int) -> None:
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] < start_step]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, self.path)

    def write(self, records: list[dict]) -> None:
        """Write records (each with a ``step``) to the JSONL file and TensorBoard."""
        if not self.enabled:
            return
        for record in records:
            self.file.write(json.dumps(record) + "\n")
            for name, value in record.items():
                if name != "step":
                    self.tensorboard.add_scalar(name, value, record["step"])
        self.file.flush()

    def advance(self, n_steps: int, **postfix) -> None:
        if not self.enabled:
            return
        self.bar.update(n_steps)
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)

    def close(self) -> None:
        if not self.enabled:
            return
        self.bar.close()
        self.file.close()
        self.tensorboard.close()


def read_log(run_dir: str | Path) -> list[dict]:
    """The records of ``<run_dir>/metrics.jsonl``."""
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
