"""Find the files of a split and check that they can be read together.

A split is ``<root>/<dataset>/data/<split>/*.hdf5`` (or ``*.h5``, as The Well also allows). Every
file must be complete, hold at least one trajectory, and share its channels and spatial shape
with the other files of the split.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from neuralpde.data.errors import DataError
from neuralpde.io import CorruptFileError, TrajectoryFile
from neuralpde.io.reader import decode_list
from neuralpde.io.schema import FIELD_GROUPS

SUFFIXES = (".hdf5", ".h5")


@dataclasses.dataclass(frozen=True)
class FileInfo:
    """What a reader needs to know about one file before touching its arrays.

    Attributes:
        path: the file.
        n_trajectories, n_time: trajectories and stored frames.
        channel_names: time-varying channels, in :class:`~neuralpde.io.TrajectoryFile` order.
        fields: ``(name, tensor order)`` of each time-varying field, in the same order.
        spatial_dims, spatial_shape: axis names and grid points per axis.
        scalar_names: the file's ``scalars/``.
    """

    path: Path
    n_trajectories: int
    n_time: int
    channel_names: tuple[str, ...]
    fields: tuple[tuple[str, int], ...]
    spatial_dims: tuple[str, ...]
    spatial_shape: tuple[int, ...]
    scalar_names: tuple[str, ...]


def file_info(path: str | Path) -> FileInfo:
    """Read the metadata of one file, refusing corrupt, unfinished and empty files.

    Raises:
        DataError: naming the file and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with TrajectoryFile(path) as reader:
            if not reader.complete:
                raise DataError(f"{path}: incomplete file (an interrupted write); "
                                "finish it with `neuralpde generate --resume`")
            if reader.n_trajectories == 0:
                raise DataError(f"{path}: holds zero trajectories")
            return FileInfo(
                path=path,
                n_trajectories=reader.n_trajectories,
                n_time=reader.n_time,
                channel_names=tuple(reader.channel_names()),
                fields=_time_varying_fields(reader),
                spatial_dims=tuple(reader.spatial_dims),
                spatial_shape=tuple(len(c) for c in reader.coordinates.values()),
                scalar_names=tuple(reader.scalar_names),
            )
    except CorruptFileError as error:
        raise DataError(f"corrupt file: {error}") from error
    except (KeyError, OSError) as error:
        raise DataError(f"{path}: corrupt file, cannot read its metadata: {error!r}") from error


def _time_varying_fields(reader: TrajectoryFile) -> tuple[tuple[str, int], ...]:
    fields = []
    for order, group in FIELD_GROUPS.items():
        for name in decode_list(reader.file[group].attrs.get("field_names", [])):
            if bool(reader.file[group][name].attrs["time_varying"]):
                fields.append((name, order))
    return tuple(fields)


def check_compatible(infos: Sequence[FileInfo]) -> None:
    """Raise :class:`DataError` unless all files share channel names and spatial shape."""
    first = infos[0]
    for info in infos[1:]:
        if info.channel_names != first.channel_names:
            raise DataError(f"files disagree in channel names: {first.path} has "
                            f"{list(first.channel_names)}, {info.path} has "
                            f"{list(info.channel_names)}")
        if info.spatial_shape != first.spatial_shape:
            raise DataError(f"files disagree in spatial shape: {first.path} has "
                            f"{first.spatial_shape}, {info.path} has {info.spatial_shape}")


def split_files(path: str | Path, split: str) -> list[Path]:
    """The sorted, checked files of one split.

    Args:
        path: a dataset directory (holding ``data/<split>/``), a split folder, or a single
            ``.hdf5`` file (returned as is, whatever ``split``).
        split: ``"train"``, ``"valid"`` or ``"test"``.

    Returns:
        The split's files, sorted by name.

    Raises:
        DataError: a missing directory, an empty split, or a file that is corrupt, incomplete,
            empty or incompatible with the others.
    """
    path = Path(path)
    if path.is_file():
        check_compatible([file_info(path)])
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: no such dataset directory or file")
    folder = path / "data" / split if (path / "data").is_dir() else path
    if not folder.is_dir():
        raise DataError(f"{folder}: no folder for split {split!r} in {path}")
    files = sorted(p for p in folder.iterdir()
                   if p.suffix in SUFFIXES and not p.name.startswith(".") and p.is_file())
    if not files:
        raise DataError(f"empty split {split!r} in {path}: no {'/'.join(SUFFIXES)} files "
                        f"in {folder}")
    check_compatible([file_info(p) for p in files])
    return files
