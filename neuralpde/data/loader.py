"""Global batches of a random-access source, sharded over the ``data`` axis of a device mesh.

Element ``k`` of the stream is ``source[π_e(k mod N)]``, with ``N = len(source)``, epoch
``e = ⌊k / N⌋`` and ``π_e`` grain's index shuffle seeded with ``seed + e`` (the identity without
shuffling), so the stream is a pure function of the seed and every epoch visits each element once,
in a new order. Global batch ``b`` is elements ``bB … bB + B − 1``. Each process reads only the
rows of every global batch that its devices hold (a contiguous slice, ``B / n`` rows of ``n``
processes) and :func:`jax.make_array_from_process_local_data` assembles the global array, so the
same code runs on one host or many.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Protocol

import grain
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from neuralpde._typing import Array
from neuralpde.data.errors import DataError

AXIS = "data"


class RandomAccessSource(Protocol):
    """What :class:`ShardedBatches` reads: indexable, sized, with dicts of NumPy arrays."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, np.ndarray]: ...


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh named ``"data"`` over ``devices`` (default: all, every process)."""
    return Mesh(np.asarray(jax.devices() if devices is None else list(devices)), (AXIS,))


class ShardedBatches:
    """An iterator of global batches ``{name: (batch, ...)}`` of ``jax.Array``, sharded on "data".

    Elements are read and prefetched by grain threads; the position is checkpointable
    (:meth:`get_state`, :meth:`set_state`). Every batch holds the source's keys plus ``mask``,
    ``(batch,)`` bool. With ``repeat=True`` (training) the stream is infinite and ``mask`` is
    all True. With ``repeat=False`` (one pass, for evaluation) the last batch is **padded** to
    the full ``batch_size``, keeping static shapes and every element: padding rows are zeros
    (``-1`` for integer entries) with ``mask = False``. Integer entries arrive as JAX's default
    integer type.

    Args:
        source: a random-access source, e.g. :class:`TrajectoryWindows`.
        batch_size: the global batch size ``B``, divisible by the devices of the mesh.
        mesh: the device mesh with a ``"data"`` axis (default :func:`data_mesh`).
        seed: the shuffle seed, ``0 ≤ seed < 2³²``.
        shuffle: shuffle, with a new order each epoch.
        repeat: repeat forever (training) or make one pass (evaluation).
        num_threads: grain reader threads (0 reads in the calling thread).
        prefetch: local batches read ahead.
    """

    def __init__(
        self,
        source: RandomAccessSource,
        batch_size: int,
        *,
        mesh: Mesh | None = None,
        seed: int = 0,
        shuffle: bool = True,
        repeat: bool = True,
        num_threads: int = 4,
        prefetch: int = 8,
    ):
        mesh = data_mesh() if mesh is None else mesh
        if AXIS not in mesh.axis_names:
            raise DataError(f"the mesh has axes {mesh.axis_names}, none named {AXIS!r}")
        n_devices = mesh.shape[AXIS]
        if batch_size < 1 or batch_size % n_devices:
            raise DataError(f"batch size {batch_size} is not a positive multiple of the "
                            f"{n_devices} devices on the {AXIS!r} axis")
        if len(source) == 0:
            raise DataError(f"{source!r} is empty")
        self.source, self.batch_size, self.seed = source, int(batch_size), int(seed)
        self.shuffle, self.repeat = bool(shuffle), bool(repeat)
        self.sharding = NamedSharding(mesh, P(AXIS))
        first, rows = _process_rows(self.sharding, self.batch_size)

        dataset = grain.MapDataset.source(source)
        if shuffle:
            dataset = dataset.seed(self.seed).shuffle()
        if repeat:
            dataset = dataset.repeat().map(_real)
            self._n_batches = None
        else:
            self._n_batches = -(-len(source) // self.batch_size)
            length = self._n_batches * self.batch_size
            dataset = grain.MapDataset.range(length).map(_Padded(dataset, source[0]))
        # Local batches of `rows` elements; this process takes one of every B / rows of them.
        dataset = dataset.batch(rows).slice(slice(first // rows, None, self.batch_size // rows))
        options = grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch)
        self._iterator = dataset.to_iter_dataset(options).__iter__()
        self._step = 0

    @property
    def step(self) -> int:
        """Global batches returned so far."""
        return self._step

    @property
    def samples_seen(self) -> int:
        """Elements returned so far (padding included), over all processes."""
        return self._step * self.batch_size

    def __len__(self) -> int:
        if self._n_batches is None:
            raise TypeError("an infinite (repeat=True) stream of batches has no length")
        return self._n_batches

    def __iter__(self) -> ShardedBatches:
        return self

    def __next__(self) -> dict[str, Array]:
        local = next(self._iterator)
        batch = {}
        for name, value in local.items():
            value = np.asarray(value)
            value = value.astype(jax.dtypes.canonicalize_dtype(value.dtype), copy=False)
            batch[name] = jax.make_array_from_process_local_data(
                self.sharding, value, (self.batch_size, *value.shape[1:]))
        self._step += 1
        return batch

    def get_state(self) -> dict[str, Any]:
        """The position in the stream, JSON-serialisable; valid for any process count (grain's
        ``next_index`` counts local batches, one per global batch)."""
        return {"step": self._step, "samples_seen": self.samples_seen,
                "batch_size": self.batch_size, "seed": self.seed, "shuffle": self.shuffle,
                "repeat": self.repeat, "grain": self._iterator.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Resume at a position from :meth:`get_state` of an identically configured loader."""
        for key in ("batch_size", "seed", "shuffle", "repeat"):
            if state[key] != getattr(self, key):
                raise DataError(f"cannot resume: the state has {key}={state[key]!r}, this "
                                f"loader {key}={getattr(self, key)!r}")
        self._iterator.set_state(state["grain"])
        self._step = int(state["step"])


def _real(element: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {**element, "mask": np.True_}


class _Padded:
    """Index ``i`` to element ``i`` of ``dataset`` with ``mask``, or to padding past its end."""

    def __init__(self, dataset, example: dict[str, np.ndarray]):
        self.dataset = dataset
        self.padding = {name: np.full_like(value, -1 if np.issubdtype(value.dtype, np.integer)
                                           else 0) for name, value in example.items()}
        self.padding["mask"] = np.False_

    def __call__(self, index: int) -> dict[str, np.ndarray]:
        return _real(self.dataset[index]) if index < len(self.dataset) else self.padding


def _process_rows(sharding: NamedSharding, batch_size: int) -> tuple[int, int]:
    """``(first row, rows)`` of each global batch on this process's devices."""
    spans = set()
    for index in sharding.addressable_devices_indices_map((batch_size,)).values():
        rows = index[0]
        spans.add((rows.start or 0, batch_size if rows.stop is None else rows.stop))
    spans = sorted(spans)
    first, last = spans[0][0], spans[-1][1]
    rows = last - first
    contiguous = all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    if not contiguous or batch_size % rows or first % rows:
        raise DataError(f"this process's devices hold rows {spans} of a batch of {batch_size}: "
                        "order the mesh devices by process so each holds one equal block")
    return first, rows

