"""Atomic writer of trajectory files in the format of :mod:`neuralpde.io.schema`."""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
from pathlib import Path

import h5py
import numpy as np

from neuralpde.io.schema import FIELD_GROUPS, FileLayout


class DiskFullError(OSError):
    """The disk filled up while writing; nothing that looks finished was left behind."""


def raise_if_disk_full(error: OSError, path: Path, what: str) -> None:
    if error.errno == errno.ENOSPC or "No space left" in str(error):
        raise DiskFullError(errno.ENOSPC, f"disk full while writing {what} ({path})") from error


class TrajectoryFileWriter:
    """Fill a trajectory file slice by slice; it appears at ``path`` only once complete.

    Data go to a hidden temporary file beside ``path`` (never matched by ``*.hdf5``). ``close()``
    writes the root attribute ``complete = True``, flushes, fsyncs and renames it into place, so
    a reader sees either no file or a finished one. Leaving the ``with`` block on an exception
    deletes the temporary file.

    Usage::

        with TrajectoryFileWriter(path, layout) as writer:
            writer.write(start, {"vorticity": ..., "energy": ..., "viscosity": ...})
    """

    def __init__(self, path: str | Path, layout: FileLayout):
        self.path = Path(path)
        self.layout = layout
        self.temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.file = h5py.File(self.temporary, "w")
            self._create_layout()
        except Exception as error:
            self._discard()
            if isinstance(error, OSError):
                raise_if_disk_full(error, self.temporary, "a trajectory file")
            raise
        self.written = np.zeros(layout.n_trajectories, bool)

    def _create_layout(self) -> None:
        f, layout = self.file, self.layout
        f.attrs["dataset_name"] = layout.dataset_name
        f.attrs["grid_type"] = "cartesian"
        f.attrs["n_spatial_dims"] = len(layout.spatial_dims)
        f.attrs["n_trajectories"] = layout.n_trajectories
        f.attrs["simulation_parameters"] = [*layout.sample_scalars, *layout.constants]
        for name, value in layout.constants.items():
            f.attrs[name] = value
        f.attrs["complete"] = False

        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = list(layout.spatial_dims)
        time = dims.create_dataset("time", data=np.asarray(layout.time, np.float32))
        _flags(time, sample=False, time=True)
        for name, coordinate in layout.coordinates.items():
            _flags(dims.create_dataset(name, data=np.asarray(coordinate, np.float32)), False, False)

        boundaries = f.create_group("boundary_conditions")
        for name, types in layout.boundary_types.items():
            low, high = (types, types) if isinstance(types, str) else types
            sides = [(low, (0, -1))] if low == high else [(low, (0,)), (high, (-1,))]
            for bc_type, ends in sides:
                group = boundaries.create_group(f"{name}_{bc_type.lower()}")
                group.attrs["associated_dims"] = [name]
                group.attrs["associated_fields"] = []
                group.attrs["bc_type"] = bc_type
                _flags(group, False, False)
                mask = np.zeros(len(layout.coordinates[name]), bool)
                mask[list(ends)] = True
                group.create_dataset("mask", data=mask)

        scalars = f.create_group("scalars")
        scalars.attrs["field_names"] = [*layout.sample_scalars, *layout.time_series,
                                        *layout.constants]
        n, n_time = layout.n_trajectories, len(layout.time)
        for name in layout.sample_scalars:
            _flags(scalars.create_dataset(name, (n,), np.float32), True, False)
        for name in layout.time_series:
            _flags(scalars.create_dataset(name, (n, n_time), np.float32), True, True)
        for name, value in layout.constants.items():
            _flags(scalars.create_dataset(name, data=np.float32(value)), False, False)

        groups = {order: f.create_group(group) for order, group in FIELD_GROUPS.items()}
        for order, group in groups.items():
            group.attrs["field_names"] = [k for k, v in layout.fields.items() if v == order]
        for name, order in layout.fields.items():
            shape = layout.field_shape(name)
            chunks = (1, 1, *shape[2:])
            dataset = groups[order].create_dataset(name, shape, np.float32, chunks=chunks)
            dataset.attrs["dim_varying"] = [True] * len(layout.spatial_dims)
            _flags(dataset, True, True)

        provenance = f.create_group("provenance")
        for key, value in layout.provenance.items():
            provenance.attrs[key] = value
        provenance.create_dataset("trajectory_index", (n,), np.int64)

    def write(self, start: int, arrays: dict[str, np.ndarray]) -> None:
        """Write trajectories ``start : start + len`` of every field, scalar and series.

        ``arrays`` must hold every name of the layout plus ``trajectory_index``.
        """
        layout = self.layout
        expected = {*layout.fields, *layout.sample_scalars, *layout.time_series, "trajectory_index"}
        if set(arrays) != expected:
            raise ValueError(f"write needs exactly {sorted(expected)}, got {sorted(arrays)}")
        count = len(arrays["trajectory_index"])
        stop = start + count
        if start < 0 or stop > layout.n_trajectories:
            raise ValueError(f"trajectories {start}:{stop} outside 0:{layout.n_trajectories}")
        try:
            for name, order in layout.fields.items():
                self.file[FIELD_GROUPS[order]][name][start:stop] = arrays[name]
            for name in (*layout.sample_scalars, *layout.time_series):
                self.file["scalars"][name][start:stop] = arrays[name]
            self.file["provenance"]["trajectory_index"][start:stop] = arrays["trajectory_index"]
        except OSError as error:
            raise_if_disk_full(error, self.temporary, "trajectories")
            raise
        self.written[start:stop] = True

    def close(self) -> Path:
        """Mark complete and move into place; every trajectory must have been written."""
        if not self.written.all():
            missing = np.flatnonzero(~self.written)
            raise ValueError(f"cannot finish {self.path}: trajectories {missing[:10]} unwritten")
        try:
            self.file["provenance"].attrs["created_utc"] = datetime.datetime.now(
                datetime.UTC
            ).isoformat(timespec="seconds")
            self.file.attrs["complete"] = True
            self.file.flush()
            self.file.close()
            with open(self.temporary, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(self.temporary, self.path)
        except OSError as error:
            self._discard()
            raise_if_disk_full(error, self.temporary, "a trajectory file")
            raise
        return self.path

    def _discard(self) -> None:
        with contextlib.suppress(Exception):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.temporary.unlink()

    def __enter__(self) -> TrajectoryFileWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self._discard()


def _flags(node, sample: bool, time: bool) -> None:
    node.attrs["sample_varying"] = sample
    node.attrs["time_varying"] = time
