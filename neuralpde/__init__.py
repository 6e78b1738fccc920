"""neuralpde: data generators, neural operators, training and rollout evaluation in JAX."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("neuralpde")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
