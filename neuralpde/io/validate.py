"""``validate(path)``: enforce the spec of :mod:`neuralpde.io.schema` on a file or a tree."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from neuralpde.io.reader import CorruptFileError, TrajectoryFile, decode_list
from neuralpde.io.schema import (
    BOUNDARY_TYPES,
    FIELD_GROUPS,
    GROUPS,
    PROVENANCE_ATTRIBUTES,
    ROOT_ATTRIBUTES,
)


class ValidationError(ValueError):
    """A file or dataset that does not meet the spec; the message lists every problem."""


def validate(path: str | Path, *, well_only: bool = False) -> list[Path]:
    """Check a ``.hdf5`` file, or every file of a dataset directory, against the spec.

    Args:
        path: a file, a dataset directory (``<dataset>/``), or a root holding several.
        well_only: check only The Well's part of the spec (for files written by others).

    Returns:
        The files checked.

    Raises:
        ValidationError: naming each file and what is wrong with it.
        FileNotFoundError: if ``path`` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    problems: list[str] = []
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.hdf5") if ".partial" not in p.parts)
        files += sorted(p for p in path.rglob("*.h5") if ".partial" not in p.parts)
        for partial in sorted(path.rglob(".partial")):
            problems.append(f"{partial}: an interrupted generation; finish it with --resume")
        for temporary in sorted(path.rglob(".*.tmp")):
            problems.append(f"{temporary}: an unfinished temporary file")
        if not files:
            problems.append(f"{path}: no .hdf5 files found")
    else:
        files = [path]
    for file in files:
        problems.extend(f"{file}: {p}" for p in _file_problems(file, well_only))
    if problems:
        raise ValidationError("\n".join(problems))
    return files


def _file_problems(path: Path, well_only: bool) -> list[str]:
    try:
        trajectories = TrajectoryFile(path)
    except CorruptFileError as error:
        return [str(error).removeprefix(f"{path}: ")]
    with trajectories:
        try:
            return _check(trajectories.file, trajectories, well_only)
        except (KeyError, OSError, ValueError, TypeError) as error:
            return [f"unreadable content: {error}"]


def _check(f: h5py.File, trajectories: TrajectoryFile, well_only: bool) -> list[str]:
    problems = [f"missing root attribute {a!r}" for a in ROOT_ATTRIBUTES if a not in f.attrs]
    problems += [f"missing group {g!r}" for g in GROUPS if g not in f]
    if problems:
        return problems
    n = int(f.attrs["n_trajectories"])
    if n < 1:
        problems.append(f"n_trajectories is {n}")
    dims = trajectories.spatial_dims
    if int(f.attrs["n_spatial_dims"]) != len(dims):
        problems.append(f"n_spatial_dims {f.attrs['n_spatial_dims']} != len(spatial_dims) {dims}")
    for name in ["time", *dims]:
        if name not in f["dimensions"]:
            problems.append(f"missing dimensions/{name}")
        elif "sample_varying" not in f["dimensions"][name].attrs:
            problems.append(f"dimensions/{name} lacks attribute 'sample_varying'")
    if problems:
        return problems

    time = f["dimensions/time"][...]
    if time.ndim not in (1, 2) or time.shape[-1] < 1:
        problems.append(f"dimensions/time has shape {time.shape}")
    elif not np.all(np.isfinite(time)) or np.any(np.diff(time, axis=-1) <= 0):
        problems.append("dimensions/time is not finite and strictly increasing")
    n_time = time.shape[-1]
    spatial = tuple(f["dimensions"][d].shape[-1] for d in dims)

    for name, group in f["boundary_conditions"].items():
        where = f"boundary_conditions/{name}"
        bc_type = str(group.attrs.get("bc_type", "")).upper()
        if bc_type not in BOUNDARY_TYPES:
            problems.append(f"{where}: bc_type {bc_type!r} not one of {BOUNDARY_TYPES}")
        associated = decode_list(group.attrs.get("associated_dims", []))
        if not associated or any(d not in dims for d in associated):
            problems.append(f"{where}: associated_dims {associated} not among {dims}")
        elif "mask" not in group or group["mask"].dtype != bool:
            problems.append(f"{where}: needs a boolean 'mask'")
        elif group["mask"].shape != (spatial[dims.index(associated[0])],):
            problems.append(f"{where}: mask shape {group['mask'].shape} does not fit its axis")

    for name in trajectories.scalar_names:
        problems += _array_problems(f["scalars"], name, n, n_time, ())
    for order, group_name in FIELD_GROUPS.items():
        group = f[group_name]
        if "field_names" not in group.attrs:
            problems.append(f"{group_name} lacks attribute 'field_names'")
            continue
        for name in decode_list(group.attrs["field_names"]):
            tail = (*spatial, *([len(dims)] * order))
            found = _array_problems(group, name, n, n_time, tail, field=True)
            problems += found
            if not found:
                problems += _nonfinite(group[name], f"{group_name}/{name}")
    if well_only:
        return problems

    for name in decode_list(f.attrs.get("simulation_parameters", [])):
        if name not in f.attrs and name not in trajectories.scalar_names:
            problems.append(f"simulation parameter {name!r} is no root attribute or scalar")
    if not bool(f.attrs.get("complete", False)):
        problems.append("unfinished: the completion record 'complete' is not True")
    if "provenance" not in f:
        return [*problems, "missing group 'provenance' (config, seed, version, git revision)"]
    provenance = f["provenance"]
    problems += [f"provenance lacks attribute {a!r}" for a in PROVENANCE_ATTRIBUTES
                 if a not in provenance.attrs]
    if provenance.get("trajectory_index", np.zeros(0)).shape != (n,):
        problems.append(f"provenance/trajectory_index must have shape ({n},)")
    return problems


def _array_problems(group, name, n, n_time, tail, field=False) -> list[str]:
    where = f"{group.name.strip('/')}/{name}"
    if name not in group:
        return [f"{where} is listed in field_names but missing"]
    dataset = group[name]
    flags = ["sample_varying", "time_varying", *(["dim_varying"] if field else [])]
    missing = [a for a in flags if a not in dataset.attrs]
    if missing:
        return [f"{where} lacks attributes {missing}"]
    expected = ((n,) if dataset.attrs["sample_varying"] else ()) + (
        (n_time,) if dataset.attrs["time_varying"] else ()
    ) + tail
    if dataset.shape != expected:
        return [f"{where} has shape {dataset.shape}, expected {expected} from its flags"]
    if field and dataset.dtype != np.float32:
        return [f"{where} has dtype {dataset.dtype}, expected float32"]
    return []


def _nonfinite(dataset: h5py.Dataset, where: str) -> list[str]:
    """NaN or Inf anywhere, read one leading slice at a time to bound memory."""
    if dataset.ndim == 0:
        return [] if np.isfinite(dataset[()]) else [f"{where} is not finite"]
    for i in range(dataset.shape[0]):
        if not np.all(np.isfinite(dataset[i])):
            return [f"{where} holds NaN or Inf (first in trajectory {i})"]
    return []
