"""The trajectories of several files under one global index, with files opened lazily.

Trajectory ``g`` is trajectory ``g − offset[k]`` of file ``k``, files in the order given. Each
object opens a file on first use and keeps it open; a pickled copy (a worker process, say)
reopens its own handles, since HDF5 handles cannot cross processes.

Reads assemble the channels as :meth:`TrajectoryFile.fields` does, but with the field datasets
looked up once per file: the reader's per-call metadata reads cost six times the data read for
a window of 64² frames.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from neuralpde._typing import Float
from neuralpde.data.errors import DataError
from neuralpde.data.files import FileInfo, check_compatible, file_info
from neuralpde.io import TrajectoryFile
from neuralpde.io.schema import FIELD_GROUPS


class TrajectorySet:
    """Random access to the trajectories of ``files``, read slice by slice with h5py.

    Args:
        files: trajectory files (ours or The Well's) with the same channels, grid and frames.
        parameters: names of per-trajectory scalars, shape ``(n_traj,)`` or ``()`` in each
            file, gathered as the conditioning vector.
    """

    def __init__(self, files: Sequence[str | Path], parameters: Sequence[str] = ()):
        self.files = tuple(Path(f) for f in files)
        if not self.files:
            raise DataError("no trajectory files given")
        self.infos: tuple[FileInfo, ...] = tuple(file_info(f) for f in self.files)
        check_compatible(self.infos)
        first = self.infos[0]
        for info in self.infos[1:]:
            if info.n_time != first.n_time:
                raise DataError(f"files disagree in stored frames: {first.path} has "
                                f"{first.n_time}, {info.path} has {info.n_time}")
        self.parameters = tuple(parameters)
        self.offsets = np.cumsum([0, *(i.n_trajectories for i in self.infos)])
        self.conditioning = np.concatenate(
            [_read_parameters(info, self.parameters) for info in self.infos]
        )
        self._readers: dict[int, TrajectoryFile] = {}
        self._plans: dict[int, list] = {}
        self._lock = threading.Lock()

    @property
    def n_trajectories(self) -> int:
        return int(self.offsets[-1])

    @property
    def n_time(self) -> int:
        return self.infos[0].n_time

    def locate(self, trajectory: int) -> tuple[int, int]:
        """``(file index, trajectory within the file)`` of a global trajectory index."""
        if not 0 <= trajectory < self.n_trajectories:
            raise IndexError(f"trajectory {trajectory} outside 0:{self.n_trajectories}")
        k = int(np.searchsorted(self.offsets, trajectory, side="right")) - 1
        return k, trajectory - int(self.offsets[k])

    def read(
        self, trajectory: int, times: slice = slice(None)
    ) -> Float[np.ndarray, "time *space channel"]:
        """Frames ``times`` of one trajectory, ``(time, *space, channel)`` float32."""
        k, local = self.locate(trajectory)
        info, plan = self.infos[k], self._plan(k)
        n_time, d = len(range(info.n_time)[times]), len(info.spatial_dims)
        out = np.empty((n_time, *info.spatial_shape, len(info.channel_names)), np.float32)
        for dataset, channels, sample_varying, order in plan:
            data = dataset[(local, times) if sample_varying else (times,)]
            data = np.broadcast_to(data, (n_time, *info.spatial_shape, *[d] * order))
            out[..., channels] = data.reshape(n_time, *info.spatial_shape, d**order)
        return out

    def _plan(self, k: int) -> list[tuple[h5py.Dataset, slice, bool, int]]:
        """Per time-varying field of file ``k``: dataset, channels, sample-varying, order."""
        plan = self._plans.get(k)
        if plan is None:
            with self._lock:
                plan = self._plans.get(k)
                if plan is None:
                    reader = self._readers[k] = TrajectoryFile(self.files[k])
                    plan, start = [], 0
                    for name, order in self.infos[k].fields:
                        dataset = reader.file[FIELD_GROUPS[order]][name]
                        width = len(self.infos[k].spatial_dims) ** order
                        plan.append((dataset, slice(start, start + width),
                                     bool(dataset.attrs["sample_varying"]), order))
                        start += width
                    self._plans[k] = plan
        return plan

    def close(self) -> None:
        with self._lock:
            self._plans.clear()
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_readers"], state["_plans"], state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._readers, self._plans = {}, {}
        self._lock = threading.Lock()


def _read_parameters(info: FileInfo, names: tuple[str, ...]) -> np.ndarray:
    """The named per-trajectory scalars of one file, ``(n_traj, parameter)`` float32."""
    columns = []
    with TrajectoryFile(info.path) as reader:
        for name in names:
            if name not in info.scalar_names:
                raise DataError(f"{info.path}: no scalar {name!r} to condition on; the file's "
                                f"scalars are {list(info.scalar_names)}")
            value = np.asarray(reader.scalar(name), np.float64)
            if value.shape not in ((), (info.n_trajectories,)):
                raise DataError(f"{info.path}: scalar {name!r} has shape {value.shape}, not a "
                                f"per-trajectory parameter (expected () or "
                                f"({info.n_trajectories},))")
            columns.append(np.broadcast_to(value, (info.n_trajectories,)))
    return np.stack(columns, axis=-1).astype(np.float32) if columns else np.zeros(
        (info.n_trajectories, 0), np.float32)
