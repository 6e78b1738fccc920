"""Figures of stored trajectories: snapshots over time and invariants against time."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from neuralpde.io import TrajectoryFile


def plot_snapshots(
    path, trajectories: int = 4, snapshots: int = 5, channel: int = 0, cmap: str = "RdBu_r"
) -> Figure:
    """A grid of snapshots: one row per trajectory, one column per time.

    Each row shares a symmetric colour range (diverging colormap centred on zero) and a colourbar.
    """
    with TrajectoryFile(path) as f:
        trajectories = min(trajectories, f.n_trajectories)
        frames = np.linspace(0, f.n_time - 1, snapshots).round().astype(int)
        data = f.fields(slice(0, trajectories))[..., channel][:, frames]
        times = np.broadcast_to(f.time, (trajectories, f.n_time))[:, frames]
        name = f.channel_names()[channel]
        x, y = (f.coordinates[d] for d in f.spatial_dims[:2])
        viscosity = f.scalar("viscosity") if "viscosity" in f.scalar_names else None
    extent = (float(x[0]), float(x[-1] + (x[1] - x[0])), float(y[0]), float(y[-1] + (y[1] - y[0])))
    figure, axes = plt.subplots(trajectories, snapshots, figsize=(2.3 * snapshots + 0.8,
                                                                  2.2 * trajectories),
                                squeeze=False, layout="constrained")
    for row in range(trajectories):
        limit = float(np.abs(data[row]).max()) or 1.0
        for col in range(snapshots):
            ax = axes[row, col]
            image = ax.imshow(data[row, col].T, origin="lower", extent=extent, cmap=cmap,
                              vmin=-limit, vmax=limit)
            ax.set_title(f"t = {times[row, col]:.3g}", fontsize=9)
            ax.set_xlabel("x", fontsize=8)
            ax.tick_params(labelsize=7)
            if col == 0:
                label = f"trajectory {row}"
                if viscosity is not None and np.ndim(viscosity) == 1:
                    label += f"\nν = {viscosity[row]:.2e}"
                ax.set_ylabel(f"{label}\ny", fontsize=8)
            else:
                ax.set_yticks([])
        figure.colorbar(image, ax=axes[row, :], shrink=0.9, label=name)
    return figure


def plot_invariants(path, names=("energy", "enstrophy", "mean_vorticity")) -> Figure:
    """Per-trajectory time series from ``scalars/`` (one panel each, one line per trajectory)."""
    with TrajectoryFile(path) as f:
        names = [n for n in names if n in f.scalar_names]
        series = {n: f.scalar(n) for n in names}
        time = f.time
    figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False,
                                layout="constrained")
    for ax, name in zip(axes[0], names, strict=True):
        ax.plot(time, np.atleast_2d(series[name]).T, lw=0.8, alpha=0.7)
        ax.set_xlabel("t")
        ax.set_ylabel(name.replace("_", " "))
        ax.grid(alpha=0.3)
    return figure
