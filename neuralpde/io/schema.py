"""The neuralpde trajectory file: The Well's HDF5 layout plus our additions. This is the spec.

Directory tree, The Well's, so that
``the_well.data.WellDataset(path=<root>/<dataset>, well_split_name=S)`` reads it::

    <root>/<dataset>/recipe.yaml                       the recipe that made it
    <root>/<dataset>/data/{train,valid,test}/*.hdf5    finished files only
    <root>/<dataset>/.partial/                         chunks of an interrupted run (resumable)

One file holds ``n_trajectories`` trajectories of one split. Arrays are channels-last.

Root attributes (all required):
    ``dataset_name`` (str), ``grid_type`` (``"cartesian"``), ``n_spatial_dims`` (int),
    ``n_trajectories`` (int), ``simulation_parameters`` (list of str), and one attribute per
    parameter that is constant over the file. ``complete`` (bool) is written last, just
    before the atomic rename: a file without ``complete = True`` is unfinished.

``dimensions/``:
    attr ``spatial_dims`` (list of str, e.g. ``["x", "y"]``); dataset ``time`` ``(n_time,)``
    float32, strictly increasing; one coordinate dataset per spatial dim ``(n_d,)`` float32. Every
    dataset has bool attrs ``sample_varying`` and ``time_varying``.

``boundary_conditions/``:
    one group per boundary, e.g. ``x_periodic``, with attrs ``bc_type`` (``"PERIODIC"``,
    ``"WALL"`` or ``"OPEN"``), ``associated_dims`` (list of str), ``associated_fields`` (list),
    ``sample_varying``, ``time_varying``, and dataset ``mask`` ``(n_d,)`` bool, True at the
    boundary points (both ends for a periodic axis).

``scalars/``:
    attr ``field_names`` (list of str). Each dataset has bool attrs ``sample_varying`` and
    ``time_varying`` and shape ``[n_trajectories if sample_varying] + [n_time if time_varying]``.
    Simulation parameters that vary per trajectory are ``(n_trajectories,)``; physical invariants
    over time (energy, enstrophy, mean vorticity, mass, boundary flux) and the CFL-chosen
    ``time_step`` are ``(n_trajectories, n_time)``.

``t0_fields/``, ``t1_fields/``, ``t2_fields/`` (all three present, possibly empty):
    attr ``field_names``; each field dataset has attrs ``dim_varying`` (bool per spatial dim),
    ``sample_varying``, ``time_varying``, and shape
    ``(n_trajectories, n_time, *space, *[n_spatial_dims] * order)`` in float32, free of NaN/Inf.

``provenance/`` (our addition; The Well's reader ignores it):
    attrs ``config`` (the recipe as YAML), ``seed`` (int), ``split`` (str),
    ``package_version``, ``git_revision``, ``created_utc``; dataset ``trajectory_index``
    ``(n_trajectories,)`` int64, the index folded into the split's key for each trajectory.

:func:`neuralpde.io.validate` enforces all of this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GROUPS = ("dimensions", "boundary_conditions", "scalars", "t0_fields", "t1_fields", "t2_fields")
FIELD_GROUPS = {0: "t0_fields", 1: "t1_fields", 2: "t2_fields"}
ROOT_ATTRIBUTES = ("dataset_name", "grid_type", "n_spatial_dims", "n_trajectories")
BOUNDARY_TYPES = ("WALL", "OPEN", "PERIODIC")
PROVENANCE_ATTRIBUTES = ("config", "seed", "split", "package_version", "git_revision")


@dataclass(frozen=True)
class FileLayout:
    """What one trajectory file will hold, fixed before any data is written.

    Attributes:
        dataset_name: the dataset (recipe) name.
        n_trajectories: trajectories in this file.
        time: stored times ``(n_time,)``.
        coordinates: spatial dim name -> coordinates ``(n_d,)``, in axis order.
        boundary_types: spatial dim name -> ``"PERIODIC"``, ``"WALL"`` or ``"OPEN"``, or a
            ``(low, high)`` pair of them when the two sides differ.
        fields: field name -> tensor order (0 scalar field, 1 vector, 2 tensor).
        sample_scalars: names of per-trajectory parameters ``(n_trajectories,)``.
        time_series: names of per-trajectory invariants ``(n_trajectories, n_time)``.
        constants: simulation parameters constant over the file.
        provenance: the ``provenance/`` attributes.
    """

    dataset_name: str
    n_trajectories: int
    time: np.ndarray
    coordinates: dict[str, np.ndarray]
    boundary_types: dict[str, str | tuple[str, str]]
    fields: dict[str, int]
    sample_scalars: tuple[str, ...] = ()
    time_series: tuple[str, ...] = ()
    constants: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, str | int] = field(default_factory=dict)

    @property
    def spatial_dims(self) -> tuple[str, ...]:
        return tuple(self.coordinates)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.coordinates.values())

    def field_shape(self, name: str) -> tuple[int, ...]:
        order = self.fields[name]
        d = len(self.coordinates)
        return (self.n_trajectories, len(self.time), *self.spatial_shape, *([d] * order))
