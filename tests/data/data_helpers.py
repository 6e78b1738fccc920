"""Small file edits and in-memory sources shared by the data tests."""

import numpy as np

from neuralpde.io.schema import FIELD_GROUPS


def scale_fields(h5, factor):
    """Multiply every time-varying field of an open ``h5py.File`` by ``factor``."""
    for group in FIELD_GROUPS.values():
        for name in h5[group]:
            h5[group][name][...] = h5[group][name][...] * factor


class Numbers:
    """In-memory source of ``n`` elements ``{"x": i, "square": i², "vector": (i, −i)}``."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if not 0 <= index < self.n:
            raise IndexError(index)
        return {"x": np.int64(index), "square": np.float32(index**2),
                "vector": np.float32([index, -index])}
