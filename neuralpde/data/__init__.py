"""Data: windowed datasets over trajectory files, normalisation, sharded batches."""

from neuralpde.data.errors import DataError
from neuralpde.data.files import FileInfo, file_info, split_files
from neuralpde.data.loader import ShardedBatches, data_mesh
from neuralpde.data.normalization import Normalization
from neuralpde.data.online_batches import OnlineBatches, OnlineStream
from neuralpde.data.statistics import DatasetStatistics, compute_normalization, compute_statistics
from neuralpde.data.stats_file import load_normalization, normalization_for, save_normalization
from neuralpde.data.trajectories import Trajectories
from neuralpde.data.windows import TrajectoryWindows

__all__ = [
    "DataError",
    "DatasetStatistics",
    "FileInfo",
    "Normalization",
    "OnlineBatches",
    "OnlineStream",
    "ShardedBatches",
    "Trajectories",
    "TrajectoryWindows",
    "compute_normalization",
    "compute_statistics",
    "data_mesh",
    "file_info",
    "load_normalization",
    "normalization_for",
    "save_normalization",
    "split_files",
]
