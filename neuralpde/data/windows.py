"""Windows of ``history`` frames in and the next ``future`` frames out, from every trajectory.

Window ``i`` of a trajectory with ``n_time`` frames starts at frame ``s = i · stride`` and covers
frames ``s … s + history + future − 1``; there are ``⌊(n_time − history − future) / stride⌋ + 1``
windows per trajectory. Global index ``j`` is window ``j mod w`` of trajectory ``⌊j / w⌋``, with
trajectories numbered across files in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neuralpde.data._trajectory_set import TrajectorySet
from neuralpde.data.errors import DataError


class TrajectoryWindows:
    """A random-access source of ``(history → future)`` windows, for grain or direct indexing.

    Only the ``history + future`` frames of a window are read from disk (an h5py hyperslab).

    Args:
        files: trajectory files (ours or The Well's), e.g. from :func:`split_files`.
        history: frames in, ``≥ 1``.
        future: frames out, ``≥ 1``.
        stride: spacing between window starts, ``≥ 1``.
        parameters: per-trajectory scalars gathered as the conditioning vector.
        mass_budget: also return each window's share of the file's mass budget (porous-medium
            files, :func:`~neuralpde.constraints.read_mass_budget`).

    ``windows[j]`` is a dict of NumPy arrays:

    - ``input``: ``(history, *space, channel)`` float32;
    - ``target``: ``(future, *space, channel)`` float32;
    - ``conditioning``: ``(parameter,)`` float32;
    - ``trajectory``, ``start``: int64 scalars, the global trajectory index and first frame;
    - with ``mass_budget``: ``inflow`` ``(future,)`` float32, the inflow over the interval ending
      at each target frame, and ``cell_volume``, float32.
    """

    def __init__(
        self,
        files: Sequence[str | Path],
        history: int,
        future: int = 1,
        *,
        stride: int = 1,
        parameters: Sequence[str] = (),
        mass_budget: bool = False,
    ):
        for name, value in (("history", history), ("future", future), ("stride", stride)):
            if int(value) != value or value < 1:
                raise DataError(f"{name} must be a positive integer, got {value!r}")
        self._set = TrajectorySet(files, parameters)
        self._history, self._future, self._stride = int(history), int(future), int(stride)
        if history + future > self.n_time:
            raise DataError(f"a window of history {history} + future {future} frames does not "
                            f"fit in {self.n_time} stored frames ({self._set.files[0]})")
        self._per_trajectory = (self.n_time - history - future) // stride + 1
        self._budget = _mass_budgets(self.files) if mass_budget else None

    @property
    def files(self) -> tuple[Path, ...]:
        return self._set.files

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self._set.infos[0].channel_names

    @property
    def fields(self) -> tuple[tuple[str, int], ...]:
        """``(name, tensor order)`` of each time-varying field, in channel order."""
        return self._set.infos[0].fields

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
    def history(self) -> int:
        return self._history

    @property
    def future(self) -> int:
        return self._future

    @property
    def stride(self) -> int:
        return self._stride

    @property
    def parameters(self) -> tuple[str, ...]:
        return self._set.parameters

    @property
    def windows_per_trajectory(self) -> int:
        return self._per_trajectory

    def __len__(self) -> int:
        return self.n_trajectories * self._per_trajectory

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"window {index} outside 0:{len(self)}")
        trajectory, window = divmod(index, self._per_trajectory)
        start = window * self._stride
        frames = self._set.read(trajectory, slice(start, start + self._history + self._future))
        window = {
            "input": frames[: self._history],
            "target": frames[self._history :],
            "conditioning": self._set.conditioning[trajectory],
            "trajectory": np.int64(trajectory),
            "start": np.int64(start),
        }
        if self._budget is not None:
            inflow, cell_volume = self._budget
            first = start + self._history
            window["inflow"] = inflow[trajectory, first : first + self._future]
            window["cell_volume"] = cell_volume[trajectory]
        return window

    def close(self) -> None:
        """Close the open files; a later read reopens them."""
        self._set.close()

    def __repr__(self) -> str:
        return (f"TrajectoryWindows({len(self)} windows, history={self.history}, "
                f"future={self.future}, stride={self.stride}, {self.n_trajectories} "
                f"trajectories in {len(self.files)} files)")


def _mass_budgets(files) -> tuple[np.ndarray, np.ndarray]:
    """``(inflow (traj, time), cell_volume (traj,))`` float32 over ``files``, in order."""
    from neuralpde.constraints.mass_budget import read_mass_budget  # constraints imports data

    inflows, volumes = [], []
    for path in files:
        try:
            budget = read_mass_budget(path)
        except KeyError as error:
            raise DataError(f"{path} records no mass budget (porous-medium files do): "
                            f"{error}") from None
        inflows.append(budget.inflow.astype(np.float32))
        volumes.append(np.full(len(budget.inflow), budget.cell_volume, np.float32))
    return np.concatenate(inflows), np.concatenate(volumes)
