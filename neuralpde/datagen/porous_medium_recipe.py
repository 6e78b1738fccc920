"""The generalized porous-medium dataset recipe: a frozen config that round-trips through YAML.

A parameter given as one number is fixed; given as ``[low, high]`` it is drawn uniformly per
trajectory from that trajectory's key. The initial condition and any ``dirichlet: exact`` data
come from the recipe's exact solution, so that every dataset can be checked against it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

from neuralpde.config import ConfigError
from neuralpde.datagen.navier_stokes_recipe import Splits, _steps

Range = float | tuple[float, float]


def bounds(value: Range) -> tuple[float, float]:
    return value if isinstance(value, tuple) else (value, value)


@dataclass(frozen=True)
class ConstantDiffusivitySpec:
    """Heat: ``k = value``."""

    kind: Literal["constant"] = "constant"
    value: Range = 1.0


@dataclass(frozen=True)
class PowerDiffusivitySpec:
    """Porous medium: ``k = u^m``."""

    kind: Literal["power"] = "power"
    exponent: Range = 1.0


@dataclass(frozen=True)
class StepDiffusivitySpec:
    """Stefan: ``k = high`` for ``u ≥ threshold``, ``low`` below; ``width`` smooths the step."""

    kind: Literal["step"] = "step"
    threshold: Range = 0.6
    high: float = 1.0
    low: float = 0.0
    width: float = 0.0


@dataclass(frozen=True)
class HeatModeSpec:
    """``u = A e^{−k|ξ|²t} Π sin(ξ_d (x_d − a_d))``; zero on faces where ``ξ_d L_d ∈ πℤ``."""

    kind: Literal["heat_mode"] = "heat_mode"
    wavenumbers: tuple[float, ...] = (1.0,)
    amplitude: float = 1.0


@dataclass(frozen=True)
class TravellingFrontSpec:
    """``u = (m (t − x)⁺)^{1/m}`` (1D, ``k = u^m``)."""

    kind: Literal["travelling_front"] = "travelling_front"


@dataclass(frozen=True)
class BarenblattSpec:
    """The ZKB source solution (``k = u^m``) with ``peak`` and support ``radius`` at ``t = 0``.

    ``center`` defaults to the centre of the domain.
    """

    kind: Literal["barenblatt"] = "barenblatt"
    peak: float = 1.0
    radius: float = 0.3
    center: tuple[float, ...] | None = None


@dataclass(frozen=True)
class StefanSpec:
    """Neumann's similarity solution: ``u(0, t) = 1``, ``u(x, 0) = 0`` (1D, step ``k``, low 0)."""

    kind: Literal["stefan"] = "stefan"


@dataclass(frozen=True)
class BoundarySpec:
    """One side: ``dirichlet`` (``value``; omitted means the exact solution's value),
    ``neumann`` (``value`` is the inflow per unit area), ``no_flux``, or ``periodic`` (both
    sides of the axis)."""

    kind: Literal["dirichlet", "neumann", "no_flux", "periodic"] = "no_flux"
    value: float | None = None


@dataclass(frozen=True)
class SolverSpec:
    """diffrax method, error tolerances and step budget; see :mod:`neuralpde.solvers`."""

    method: str = "auto"
    rtol: float = 1e-4
    atol: float = 1e-6
    max_steps: int = 20_000


DiffusivitySpec = ConstantDiffusivitySpec | PowerDiffusivitySpec | StepDiffusivitySpec
SolutionSpec = HeatModeSpec | TravellingFrontSpec | BarenblattSpec | StefanSpec
SIDE_NAMES = ("x_low", "x_high", "y_low", "y_high")
_SOLUTION_NEEDS = {
    "heat_mode": "constant",
    "travelling_front": "power",
    "barenblatt": "power",
    "stefan": "step",
}


@dataclass(frozen=True)
class PorousMediumRecipe:
    """Everything that determines a porous-medium dataset.

    ``lower``/``upper``/``resolution`` give the box and cells per axis (length 1 or 2). Frames are
    stored at ``j · store_interval`` for ``t ∈ [0, t_end]``.
    """

    name: str
    kind: Literal["porous_medium"] = "porous_medium"
    description: str = ""
    lower: tuple[float, ...] = (0.0,)
    upper: tuple[float, ...] = (1.0,)
    resolution: tuple[int, ...] = (128,)
    diffusivity: DiffusivitySpec = field(default_factory=PowerDiffusivitySpec)
    solution: SolutionSpec = field(default_factory=TravellingFrontSpec)
    boundaries: dict[str, BoundarySpec] = field(default_factory=dict)
    t_end: float = 1.0
    store_interval: float = 0.01
    solver: SolverSpec = field(default_factory=SolverSpec)
    splits: Splits = field(default_factory=Splits)
    seed: int = 0
    chunk_size: int = 32
    dtype: Literal["float32", "float64"] = "float64"

    def __post_init__(self):
        ndim = len(self.resolution)
        where = self.name
        if not (ndim in (1, 2) and len(self.lower) == len(self.upper) == ndim):
            raise ConfigError(f"{where}: lower, upper and resolution need 1 or 2 equal entries")
        if any(n < 2 for n in self.resolution):
            raise ConfigError(f"{where}: resolution needs at least 2 cells per axis")
        if any(not b > a for a, b in zip(self.lower, self.upper, strict=True)):
            raise ConfigError(f"{where}: upper must exceed lower on every axis")
        self._check_parameters(where)
        self._check_boundaries(where, ndim)
        needs = _SOLUTION_NEEDS[self.solution.kind]
        if self.diffusivity.kind != needs:
            raise ConfigError(
                f"{where}: the {self.solution.kind} solution solves the {needs} diffusivity, "
                f"not {self.diffusivity.kind}"
            )
        if self.solution.kind in ("travelling_front", "stefan") and ndim != 1:
            raise ConfigError(f"{where}: the {self.solution.kind} solution is one-dimensional")
        if self.solution.kind == "stefan" and self.diffusivity.low != 0:
            raise ConfigError(f"{where}: the Stefan similarity solution needs diffusivity.low = 0")
        if isinstance(self.solution, BarenblattSpec) and not (
            self.solution.peak > 0 and self.solution.radius > 0
        ):
            raise ConfigError(f"{where}: the Barenblatt solution needs peak > 0 and radius > 0")
        if isinstance(self.solution, HeatModeSpec) and len(self.solution.wavenumbers) != ndim:
            raise ConfigError(f"{where}: heat_mode needs one wavenumber per axis")
        if not (self.t_end > 0 and self.store_interval > 0):
            raise ConfigError(f"{where}: t_end and store_interval must be > 0")
        _steps(self.t_end, self.store_interval, f"{where}: t_end")
        if self.chunk_size < 1:
            raise ConfigError(f"{where}: chunk_size must be positive")
        if min(self.splits.counts().values()) < 0 or sum(self.splits.counts().values()) == 0:
            raise ConfigError(f"{where}: splits need non-negative counts, not all zero")

    def _check_parameters(self, where: str) -> None:
        d = self.diffusivity
        name, value = {
            "constant": ("value", getattr(d, "value", None)),
            "power": ("exponent", getattr(d, "exponent", None)),
            "step": ("threshold", getattr(d, "threshold", None)),
        }[d.kind]
        low, high = bounds(value)
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ConfigError(f"{where}: diffusivity.{name} {value} is not a finite range")
        if d.kind in ("constant", "power") and low < 0:
            raise ConfigError(f"{where}: diffusivity.{name} must be >= 0, got {value} "
                              "(a negative exponent or diffusivity is ill-posed)")
        self_similar = self.solution.kind in ("barenblatt", "travelling_front")
        if d.kind == "power" and self_similar and low <= 0:
            raise ConfigError(f"{where}: the {self.solution.kind} solution needs exponent > 0")
        if d.kind == "step":
            if not 0 < low <= high < 1:
                raise ConfigError(f"{where}: diffusivity.threshold must lie in (0, 1), got {value}")
            if not 0 <= d.low <= d.high or d.width < 0:
                raise ConfigError(f"{where}: the step needs 0 <= low <= high and width >= 0")

    def _check_boundaries(self, where: str, ndim: int) -> None:
        sides = SIDE_NAMES[: 2 * ndim]
        missing = [s for s in sides if s not in self.boundaries]
        extra = sorted(set(self.boundaries) - set(sides))
        if missing or extra:
            raise ConfigError(
                f"{where}: boundaries need exactly {list(sides)}; missing {missing}, "
                f"unknown {extra}"
            )
        for axis in range(ndim):
            low, high = (self.boundaries[s] for s in sides[2 * axis : 2 * axis + 2])
            if (low.kind == "periodic") != (high.kind == "periodic"):
                raise ConfigError(
                    f"{where}: {sides[2 * axis]} is {low.kind} but {sides[2 * axis + 1]} is "
                    f"{high.kind}; a periodic axis must be periodic on both sides"
                )
        for side in sides:
            spec = self.boundaries[side]
            if spec.kind == "neumann" and spec.value is None:
                raise ConfigError(f"{where}: boundaries.{side} (neumann) needs a value")
            if spec.kind in ("no_flux", "periodic") and spec.value is not None:
                raise ConfigError(f"{where}: boundaries.{side} ({spec.kind}) takes no value")

    @property
    def ndim(self) -> int:
        return len(self.resolution)

    @property
    def n_frames(self) -> int:
        return _steps(self.t_end, self.store_interval, "t_end") + 1

    def frame_times(self) -> list[float]:
        return [j * self.store_interval for j in range(self.n_frames)]

    @property
    def parameter_name(self) -> str:
        """The per-trajectory parameter stored in the file: the one the diffusivity varies."""
        return {"constant": "diffusivity", "power": "exponent", "step": "threshold"}[
            self.diffusivity.kind
        ]

    def replace(self, **changes) -> PorousMediumRecipe:
        return dataclasses.replace(self, **changes)
