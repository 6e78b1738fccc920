"""A human-readable summary of a trajectory file or a dataset directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuralpde.io import TrajectoryFile


def summarize(path: str | Path) -> str:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if path.is_file():
        return _summarize_file(path)
    files = sorted(path.rglob("*.hdf5"))
    if not files:
        return f"{path}: no .hdf5 files"
    return "\n\n".join(_summarize_file(f) for f in files)


def _summarize_file(path: Path) -> str:
    with TrajectoryFile(path) as f:
        shape = " × ".join(str(len(c)) for c in f.coordinates.values())
        time = f.time
        lines = [
            f"{path}",
            f"  dataset        {f.dataset_name}   split: {f.provenance.get('split', '?')}   "
            f"complete: {f.complete}",
            f"  trajectories   {f.n_trajectories}",
            f"  time           {f.n_time} frames, t = {float(np.min(time)):.4g} .. "
            f"{float(np.max(time)):.4g}",
            f"  grid           {shape} over {', '.join(f.spatial_dims)}; boundaries "
            + ", ".join(f"{d}: {lo.lower()}/{hi.lower()}" for d, (lo, hi) in
                        f.boundary_types.items()),
            f"  channels       {', '.join(f.channel_names())}",
        ]
        for name in f.scalar_names:
            values = f.scalar(name)
            if values.ndim == 2:
                first, last = values[:, 0].mean(), values[:, -1].mean()
                lines.append(f"  {name:<14} mean over trajectories: {first:.6g} (t0) -> "
                             f"{last:.6g} (t_end)")
            else:
                lines.append(f"  {name:<14} {np.min(values):.6g} .. {np.max(values):.6g}")
        if f.provenance:
            p = f.provenance
            lines.append(f"  made by        neuralpde {p.get('package_version')} "
                         f"@ {p.get('git_revision')}, seed {p.get('seed')}, "
                         f"{p.get('created_utc', '?')}")
        return "\n".join(lines)
