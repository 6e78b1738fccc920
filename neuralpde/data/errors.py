"""The one error of :mod:`neuralpde.data`."""


class DataError(ValueError):
    """Data that cannot be used as asked; the message names the file and what is wrong."""
