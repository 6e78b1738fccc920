"""Per-channel statistics of a training split, streamed from disk in float64.

For every channel ``c`` over all trajectories, frames and grid points of the split:
``μ_c = mean(u_c)`` and ``σ_c = std(u_c)`` (population), and likewise for the frame-to-frame
increments ``δu = u(t+1) − u(t)`` within each trajectory, with root mean squares
``rms = √(σ² + μ²)``, the set The Well records in ``stats.yaml``. Partial moments of each chunk
of frames are merged with Chan et al.'s pairwise update (1979), so nothing beyond one chunk is
held in memory and no sum of squares loses precision. A channel that is constant gets ``σ = 1``.
Conditioning parameters get their mean and std over trajectories (``σ = 1`` if constant).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neuralpde._typing import Float
from neuralpde.data._trajectory_set import TrajectorySet
from neuralpde.data.errors import DataError
from neuralpde.data.normalization import Normalization

logger = logging.getLogger(__name__)

# float64 values per chunk read from disk (64 MiB).
CHUNK_VALUES = 2**23


@dataclasses.dataclass(frozen=True)
class DatasetStatistics:
    """Everything :func:`compute_statistics` measures; ``stats.yaml`` holds all of it.

    Attributes:
        normalization: ``μ, σ`` per channel and per parameter (``σ = 1`` where constant).
        mean_delta, std_delta: moments of the increments ``δu``, ``(channel,)``.
        rms, rms_delta: root mean squares of ``u`` and ``δu``, ``(channel,)``.
        fields: ``(name, tensor order)`` of each time-varying field, in channel order.
        n_spatial_dims: spatial dimensions (components per vector field).
        files: the files measured.
    """

    normalization: Normalization
    mean_delta: np.ndarray
    std_delta: np.ndarray
    rms: np.ndarray
    rms_delta: np.ndarray
    fields: tuple[tuple[str, int], ...]
    n_spatial_dims: int
    files: tuple[Path, ...]


class _Moments:
    """Running count, mean, sum of squared deviations, min and max per channel."""

    def __init__(self, n_channels: int):
        self.count = 0
        self.mean = np.zeros(n_channels)
        self.m2 = np.zeros(n_channels)
        self.min = np.full(n_channels, np.inf)
        self.max = np.full(n_channels, -np.inf)

    def add(self, x: Float[np.ndarray, "*rest channel"]) -> None:
        """Merge the values of ``x`` (float64) into the running moments."""
        x = x.reshape(-1, x.shape[-1])
        n = x.shape[0]
        if n == 0:
            return
        mean = x.mean(axis=0)
        m2 = np.square(x - mean).sum(axis=0)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + np.square(delta) * (self.count * n / total)
        self.count = total
        self.min = np.minimum(self.min, x.min(axis=0))
        self.max = np.maximum(self.max, x.max(axis=0))

    @property
    def constant(self) -> np.ndarray:
        return ~(self.max > self.min)

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation; 1 where the channel is constant (or empty)."""
        std = np.sqrt(self.m2 / max(self.count, 1))
        return np.where(self.constant, 1.0, std)

    @property
    def rms(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.count, 1) + np.square(self.mean))


def compute_statistics(
    files: Sequence[str | Path], parameters: Sequence[str] = ()
) -> DatasetStatistics:
    """Measure channel and parameter statistics of ``files``, one chunk of frames at a time.

    Args:
        files: the training split's files (see :func:`split_files`).
        parameters: per-trajectory scalars to be used as conditioning.

    Raises:
        DataError: NaN or Inf in the data, naming the file, trajectory, channel and frame;
            or files that cannot be read together.
    """
    trajectories = TrajectorySet(files, parameters)
    info = trajectories.infos[0]
    channels = info.channel_names
    values, deltas = _Moments(len(channels)), _Moments(len(channels))
    n_time = trajectories.n_time
    frame_values = int(np.prod(info.spatial_shape)) * len(channels)
    chunk = max(1, CHUNK_VALUES // max(frame_values, 1) - 1)
    for g in range(trajectories.n_trajectories):
        for start in range(0, n_time, chunk):
            # One frame of overlap, so the increment across chunks is counted once.
            x = trajectories.read(g, slice(start, min(start + chunk + 1, n_time)))
            x = x.astype(np.float64)
            _check_finite(x, trajectories, g, start, channels)
            values.add(x[:chunk])
            deltas.add(np.diff(x, axis=0))
    for name, constant in zip(channels, values.constant, strict=True):
        if constant:
            logger.warning("channel %r is constant over %s; using σ = 1", name, info.path.parent)
    parameter_mean, parameter_std = parameter_statistics(trajectories.conditioning)
    normalization = Normalization(
        mean=values.mean.astype(np.float32),
        std=values.std.astype(np.float32),
        parameter_mean=parameter_mean,
        parameter_std=parameter_std,
        channel_names=tuple(channels),
        parameter_names=tuple(parameters),
    )
    return DatasetStatistics(
        normalization=normalization,
        mean_delta=deltas.mean.astype(np.float32),
        std_delta=deltas.std.astype(np.float32),
        rms=values.rms.astype(np.float32),
        rms_delta=np.where(deltas.count > 0, deltas.rms, 1.0).astype(np.float32),
        fields=info.fields,
        n_spatial_dims=len(info.spatial_dims),
        files=trajectories.files,
    )


def compute_normalization(
    files: Sequence[str | Path], parameters: Sequence[str] = ()
) -> Normalization:
    """The :class:`Normalization` of ``files``: see :func:`compute_statistics`."""
    return compute_statistics(files, parameters).normalization


def parameter_statistics(conditioning: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over trajectories of ``(trajectory, parameter)`` values; σ = 1 if constant."""
    values = conditioning.astype(np.float64)
    constant = ~(values.max(axis=0, initial=-np.inf) > values.min(axis=0, initial=np.inf))
    std = np.where(constant, 1.0, values.std(axis=0))
    return values.mean(axis=0).astype(np.float32), std.astype(np.float32)


def _check_finite(x, trajectories: TrajectorySet, g: int, start: int, channels) -> None:
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    frame, *_, channel = np.argwhere(bad)[0]
    k, local = trajectories.locate(g)
    raise DataError(f"{trajectories.files[k]}: NaN or Inf in trajectory {local} (global "
                    f"{g}), channel {channels[channel]!r}, frame {start + frame}")
