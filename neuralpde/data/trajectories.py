"""Whole trajectories with their conditioning, for rollout evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neuralpde.data._trajectory_set import TrajectorySet


class Trajectories:
    """A random-access source of whole trajectories, numbered across files in the order given.

    Args:
        files: trajectory files (ours or The Well's) with the same channels, grid and frames.
        parameters: per-trajectory scalars gathered as the conditioning vector.

    ``trajectories[g]`` is a dict of NumPy arrays:

    - ``fields``: ``(time, *space, channel)`` float32, every stored frame;
    - ``conditioning``: ``(parameter,)`` float32;
    - ``trajectory``: int64 scalar, the global trajectory index ``g``.
    """

    def __init__(self, files: Sequence[str | Path], *, parameters: Sequence[str] = ()):
        self._set = TrajectorySet(files, parameters)

    @property
    def files(self) -> tuple[Path, ...]:
        return self._set.files

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self._set.infos[0].channel_names

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return self._set.infos[0].spatial_shape

    @property
    def n_trajectories(self) -> int:
        return self._set.n_trajectories

    @property
    def n_time(self) -> int:
        return self._set.n_time

    @property
    def parameters(self) -> tuple[str, ...]:
        return self._set.parameters

    def __len__(self) -> int:
        return self.n_trajectories

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"trajectory {index} outside 0:{len(self)}")
        return {
            "fields": self._set.read(index),
            "conditioning": self._set.conditioning[index],
            "trajectory": np.int64(index),
        }

    def close(self) -> None:
        """Close the open files; a later read reopens them."""
        self._set.close()

    def __repr__(self) -> str:
        return f"Trajectories({len(self)} trajectories in {len(self.files)} files)"
