"""Read trajectory files: ours, and The Well's, channels-last.

Channel order follows The Well: ``t0`` fields, then ``t1``, then ``t2``, each in its
``field_names`` order, tensor components last (``velocity_x``, ``velocity_y``).
"""

from __future__ import annotations

import itertools
from functools import cached_property
from pathlib import Path

import h5py
import numpy as np

from neuralpde.io.schema import FIELD_GROUPS


class CorruptFileError(OSError):
    """An HDF5 file that cannot be opened or lacks what the format requires."""


def decode(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def decode_list(value) -> list[str]:
    if isinstance(value, str | bytes):
        return [decode(value)]
    return [decode(v) for v in np.asarray(value).ravel().tolist()]


class TrajectoryFile:
    """A read-only view of one trajectory file. Use as a context manager or call ``close``.

    Args:
        path: an ``.hdf5`` file in our format or The Well's.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.file = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise
        except OSError as error:
            raise CorruptFileError(
                f"{self.path}: not a readable HDF5 file (truncated or corrupt): {error}"
            ) from error

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> TrajectoryFile:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _require(self, key: str):
        if key not in self.file:
            raise CorruptFileError(f"{self.path}: missing group or dataset {key!r}")
        return self.file[key]

    @property
    def dataset_name(self) -> str:
        return decode(self.file.attrs["dataset_name"])

    @property
    def n_trajectories(self) -> int:
        return int(self.file.attrs["n_trajectories"])

    @property
    def complete(self) -> bool:
        """Our completion record; The Well's files have none and count as complete."""
        return bool(self.file.attrs.get("complete", True))

    @cached_property
    def spatial_dims(self) -> list[str]:
        return decode_list(self._require("dimensions").attrs["spatial_dims"])

    @cached_property
    def time(self) -> np.ndarray:
        """Stored times: ``(n_time,)``, or ``(n_trajectories, n_time)`` if sample-varying."""
        return self._require("dimensions/time")[...]

    @property
    def n_time(self) -> int:
        return self.time.shape[-1]

    @cached_property
    def coordinates(self) -> dict[str, np.ndarray]:
        return {d: self._require(f"dimensions/{d}")[...] for d in self.spatial_dims}

    @cached_property
    def boundary_types(self) -> dict[str, tuple[str, str]]:
        """Per spatial dim, the (low, high) boundary type; ``OPEN`` where none is given."""
        types = {d: ["OPEN", "OPEN"] for d in self.spatial_dims}
        for group in self._require("boundary_conditions").values():
            bc_type = decode(group.attrs["bc_type"]).upper()
            mask = group["mask"][...] if "mask" in group else np.ones(2, bool)
            for dim in decode_list(group.attrs["associated_dims"]):
                ends = (bool(mask[0]), bool(mask[-1])) if mask.any() else (True, True)
                for side, hit in enumerate(ends):
                    if hit:
                        types[dim][side] = bc_type
        return {d: (low, high) for d, (low, high) in types.items()}

    def _field_datasets(self, time_varying: bool) -> list[tuple[str, int, h5py.Dataset]]:
        found = []
        for order, group_name in FIELD_GROUPS.items():
            group = self._require(group_name)
            for name in decode_list(group.attrs.get("field_names", [])):
                dataset = group[name]
                if bool(dataset.attrs["time_varying"]) == time_varying:
                    found.append((name, order, dataset))
        return found

    def channel_names(self, time_varying: bool = True) -> list[str]:
        names = []
        for name, order, _ in self._field_datasets(time_varying):
            for components in itertools.product(self.spatial_dims, repeat=order):
                names.append("_".join([name, *components]))
        return names

    def fields(self, trajectories=slice(None), times=slice(None)) -> np.ndarray:
        """Time-varying fields, ``(n, t, *space, channel)`` float32 for the selected slices."""
        return self._read_fields(True, trajectories, times)

    def constant_fields(self, trajectories=slice(None)) -> np.ndarray:
        """Time-constant fields, ``(n, *space, channel)``."""
        return self._read_fields(False, trajectories, None)

    def _read_fields(self, time_varying, trajectories, times) -> np.ndarray:
        n_dims = len(self.spatial_dims)
        spatial = tuple(len(c) for c in self.coordinates.values())
        n_selected = len(range(self.n_trajectories)[trajectories])
        pieces = []
        for _, order, dataset in self._field_datasets(time_varying):
            index = []
            if dataset.attrs["sample_varying"]:
                index.append(trajectories)
            if time_varying:
                index.append(times)
            data = dataset[tuple(index)] if index else dataset[...]
            if not dataset.attrs["sample_varying"]:
                data = np.broadcast_to(data[None], (n_selected, *data.shape))
            lead = data.shape[: 2 if time_varying else 1]
            data = np.broadcast_to(data, (*lead, *spatial, *([n_dims] * order)))
            pieces.append(np.reshape(data, (*lead, *spatial, n_dims**order)))
        if not pieces:
            lead = (n_selected,) if not time_varying else (n_selected, self.n_time)
            return np.zeros((*lead, *spatial, 0), np.float32)
        return np.concatenate(pieces, axis=-1).astype(np.float32, copy=False)

    @cached_property
    def scalar_names(self) -> list[str]:
        return decode_list(self._require("scalars").attrs.get("field_names", []))

    def scalar(self, name: str) -> np.ndarray:
        """A scalar: ``()``, ``(n_traj,)``, ``(n_time,)`` or ``(n_traj, n_time)``."""
        if name not in self.scalar_names:
            raise KeyError(f"{self.path}: no scalar {name!r}; scalars: {self.scalar_names}")
        return self.file["scalars"][name][...]

    @cached_property
    def provenance(self) -> dict[str, str | int]:
        if "provenance" not in self.file:
            return {}
        return {k: v.item() if isinstance(v, np.generic) else v
                for k, v in self.file["provenance"].attrs.items()}
