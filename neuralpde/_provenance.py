"""What made a file: package version and git revision of the source tree."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import neuralpde


@functools.cache
def git_revision() -> str:
    """``HEAD`` of the source checkout (``+dirty`` if changed), or ``unknown``."""
    source = Path(neuralpde.__file__).resolve().parent
    try:
        revision = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return revision + ("+dirty" if dirty else "")


def package_version() -> str:
    return neuralpde.__version__
