"""The HDF5 trajectory format: spec, atomic writer, reader (ours and The Well's), validator."""

from neuralpde.io.reader import CorruptFileError, TrajectoryFile
from neuralpde.io.schema import FileLayout
from neuralpde.io.validate import ValidationError, validate
from neuralpde.io.writer import DiskFullError, TrajectoryFileWriter

__all__ = [
    "CorruptFileError",
    "DiskFullError",
    "FileLayout",
    "TrajectoryFile",
    "TrajectoryFileWriter",
    "ValidationError",
    "validate",
]
