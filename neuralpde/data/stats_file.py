"""``stats.yaml`` beside a dataset: The Well's layout, plus a ``neuralpde:`` section.

The Well's keys (``mean``, ``std``, ``mean_delta``, ``std_delta``, ``rms``, ``rms_delta``) map a
field name to a number (scalar field), a list per component (vector field) or a nested list
(tensor field), so that ``the_well.data.WellDataset(..., use_normalization=True)`` reads our
datasets. The ``neuralpde:`` section holds the statistics per channel and per conditioning
parameter, and the size and modification time of each file measured, so a stale file is noticed::

    mean: {vorticity: 0.01, velocity: [0.0, 0.0]}
    std: {vorticity: 1.2, velocity: [0.8, 0.8]}
    ...
    neuralpde:
      channel_names: [vorticity, velocity_x, velocity_y]
      mean: [...]
      std: [...]
      parameter_names: [viscosity]
      parameter_mean: [...]
      parameter_std: [...]
      files: [{path: data/train/ns_train.hdf5, size: 1234, mtime_ns: 1700000000000000000}]
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from neuralpde.data._trajectory_set import TrajectorySet
from neuralpde.data.errors import DataError
from neuralpde.data.files import file_info, split_files
from neuralpde.data.normalization import Normalization
from neuralpde.data.statistics import DatasetStatistics, compute_statistics, parameter_statistics

SECTION = "neuralpde"


def save_normalization(stats: Normalization | DatasetStatistics, path: str | Path) -> Path:
    """Write ``stats.yaml`` atomically (a temporary file, then ``os.replace``).

    Args:
        stats: a full :class:`DatasetStatistics` (all of The Well's keys, grouped by field, and
            the files measured), or a bare :class:`Normalization` (``mean``/``std`` per
            channel name).
        path: the file to write, conventionally ``<root>/<dataset>/stats.yaml``.
    """
    path = Path(path)
    norm = stats.normalization if isinstance(stats, DatasetStatistics) else stats
    section = {
        "channel_names": list(norm.channel_names),
        "mean": _floats(norm.mean),
        "std": _floats(norm.std),
        "parameter_names": list(norm.parameter_names),
        "parameter_mean": _floats(norm.parameter_mean),
        "parameter_std": _floats(norm.parameter_std),
    }
    if isinstance(stats, DatasetStatistics):
        channel_values = {"mean": norm.mean, "std": norm.std, "mean_delta": stats.mean_delta,
                          "std_delta": stats.std_delta, "rms": stats.rms,
                          "rms_delta": stats.rms_delta}
        well = {key: _by_field(values, stats) for key, values in channel_values.items()}
        section["files"] = [_file_record(f, path.parent) for f in stats.files]
    else:
        well = {key: dict(zip(norm.channel_names, _floats(getattr(norm, key)), strict=True))
                for key in ("mean", "std")}
    text = yaml.safe_dump({**well, SECTION: section}, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def load_normalization(path: str | Path, files: Sequence[str | Path] = ()) -> Normalization:
    """Read ``stats.yaml``: ours, or The Well's own (channel statistics only).

    Args:
        path: the ``stats.yaml``.
        files: data files that tell the channels of a Well ``stats.yaml`` (which is keyed by
            field); by default the ``train`` split beside it. Unused for our files.

    Raises:
        DataError: a missing or malformed file, or a Well file lacking a field of the data.
    """
    path = Path(path)
    stats = _read(path)
    if SECTION in stats:
        s = stats[SECTION]
        return Normalization(
            np.asarray(s["mean"], np.float32), np.asarray(s["std"], np.float32),
            np.asarray(s["parameter_mean"], np.float32).reshape(-1),
            np.asarray(s["parameter_std"], np.float32).reshape(-1),
            tuple(s["channel_names"]), tuple(s["parameter_names"]),
        )
    if not files:
        files = split_files(path.parent, "train")
    info = file_info(files[0])
    mean, std = [], []
    for name, order in info.fields:
        components = len(info.spatial_dims) ** order
        for key, out in (("mean", mean), ("std", std)):
            if name not in stats.get(key, {}):
                raise DataError(f"{path}: no {key!r} for field {name!r} of {info.path}")
            value = np.ravel(np.asarray(stats[key][name], np.float64))
            if value.size != components:
                raise DataError(f"{path}: {key!r} of field {name!r} has {value.size} "
                                f"components, the data {components}")
            out.extend(value)
    std = np.asarray(std)
    return Normalization(np.asarray(mean, np.float32), np.where(std > 0, std, 1.0)
                         .astype(np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32),
                         info.channel_names)


def normalization_for(
    files: Sequence[str | Path],
    parameters: Sequence[str] = (),
    stats_path: str | Path | None = None,
) -> Normalization:
    """The normalisation of a training split, from ``stats.yaml`` if it is current.

    Ours is loaded if it records the same channels, parameters and files (paths, sizes and
    modification times); otherwise the statistics are computed and written. A Well
    ``stats.yaml`` (without our section) is never overwritten: its channel statistics are used
    and the parameter statistics, cheap, computed from the files.

    Args:
        files: the training files.
        parameters: conditioning parameters.
        stats_path: where ``stats.yaml`` lives; by default ``<dataset>/stats.yaml`` for files
            in ``<dataset>/data/<split>/``.
    """
    files = [Path(f) for f in files]
    path = Path(stats_path) if stats_path is not None else _default_path(files)
    if path.exists():
        stats = _read(path)
        if SECTION not in stats:
            norm = load_normalization(path, files)
            trajectories = TrajectorySet(files, parameters)
            if trajectories.infos[0].channel_names != norm.channel_names:
                raise DataError(f"{path}: statistics for channels {norm.channel_names}, the "
                                f"data has {trajectories.infos[0].channel_names}")
            p_mean, p_std = parameter_statistics(trajectories.conditioning)
            return Normalization(norm.mean, norm.std, p_mean, p_std, norm.channel_names,
                                 tuple(parameters))
        section = stats[SECTION]
        current = [_file_record(f, path.parent) for f in files]
        if (section.get("files") == current
                and section.get("parameter_names") == list(parameters)
                and section.get("channel_names") == list(file_info(files[0]).channel_names)):
            return load_normalization(path)
    stats = compute_statistics(files, parameters)
    save_normalization(stats, path)
    return stats.normalization


def _default_path(files: list[Path]) -> Path:
    if not files:
        raise DataError("no training files given")
    split_folder = files[0].resolve().parent
    if split_folder.parent.name != "data":
        raise DataError(f"{files[0]} is not in <dataset>/data/<split>/; give stats_path")
    return split_folder.parent.parent / "stats.yaml"


def _read(path: Path) -> dict:
    try:
        stats = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise DataError(f"{path}: cannot read statistics: {error}") from error
    if not isinstance(stats, dict) or not ({"mean", "std"} <= stats.keys() or SECTION in stats):
        raise DataError(f"{path}: not a stats.yaml (no 'mean' and 'std' mappings)")
    return stats


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values, np.float64).ravel()]


def _by_field(values: np.ndarray, stats: DatasetStatistics) -> dict:
    """Channel values grouped as The Well does: a number, a list, or a nested list per field."""
    out, start, d = {}, 0, stats.n_spatial_dims
    for name, order in stats.fields:
        block = np.asarray(values[start : start + d**order], np.float64).reshape((d,) * order)
        out[name] = block.tolist()
        start += d**order
    return out


def _file_record(file: Path, base: Path) -> dict:
    status = file.stat()
    return {"path": os.path.relpath(file.resolve(), base.resolve()), "size": status.st_size,
            "mtime_ns": status.st_mtime_ns}
