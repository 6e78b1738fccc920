"""The Navier–Stokes dataset recipe: a frozen config that round-trips through YAML."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

from neuralpde.config import ConfigError


@dataclass(frozen=True)
class FNOForcing:
    """``f = A (sin 2π(x+y)/L + cos 2π(x+y)/L)`` (Li et al. 2021)."""

    kind: Literal["fno"] = "fno"
    amplitude: float = 0.1


@dataclass(frozen=True)
class KolmogorovForcing:
    """Velocity forcing ``(A sin(k y), 0)``, ``k = 2π m / L``; add drag in the recipe."""

    kind: Literal["kolmogorov"] = "kolmogorov"
    wavenumber: int = 4
    amplitude: float = 1.0


@dataclass(frozen=True)
class NoForcing:
    """Decaying turbulence."""

    kind: Literal["none"] = "none"


@dataclass(frozen=True)
class FNOGaussianRandomField:
    """``N(0, σ²(−Δ + τ²)^{−α})`` with ``σ = τ^{α−1}``, the FNO initial vorticity."""

    kind: Literal["fno_grf"] = "fno_grf"
    alpha: float = 2.5
    tau: float = 7.0


@dataclass(frozen=True)
class EnergySpectrumField:
    """Random phases under ``E(k) ∝ k⁴ exp(−2(k/k₀)²)``, scaled to a mean kinetic energy."""

    kind: Literal["energy_spectrum"] = "energy_spectrum"
    peak_wavenumber: float = 4.0
    energy: float = 0.5


@dataclass(frozen=True)
class TaylorGreenField:
    """The explicit Taylor–Green vortex ``2 A k sin(kx) sin(ky)``, identical in every trajectory."""

    kind: Literal["taylor_green"] = "taylor_green"
    wavenumber: int = 1
    amplitude: float = 1.0


Forcing = FNOForcing | KolmogorovForcing | NoForcing
InitialCondition = FNOGaussianRandomField | EnergySpectrumField | TaylorGreenField
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Splits:
    train: int = 1
    valid: int = 0
    test: int = 0

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in SPLITS}


@dataclass(frozen=True)
class NavierStokesRecipe:
    """Everything that determines a Navier–Stokes dataset, bit for bit.

    Time runs from 0 to ``t_end``; frames are stored at ``burn_in + j·store_interval``.
    ``viscosity`` is one value, or ``[low, high]`` for a log-uniform draw per trajectory.

    Time step: fixed at ``dt`` by default. With ``courant = C`` it is chosen by the CFL
    condition instead, and ``dt`` is the longest step allowed: every store interval ``Δ`` (and
    the burn-in, in parts no longer than ``Δ``) takes ``m = max(⌈max|u| Δ / (C dx)⌉, Δ / dt)``
    equal steps, ``max|u|`` measured at its start on the solve grid
    (:class:`neuralpde.solvers.adaptive.CFLAdaptiveInterval`). ``cfl_max`` bounds the Courant
    number recorded at every frame in both modes; a frame above it stops the run.
    """

    name: str
    kind: Literal["navier_stokes_2d"] = "navier_stokes_2d"
    description: str = ""
    domain_length: float = 1.0
    solve_resolution: int = 64
    store_resolution: int = 64
    viscosity: float | tuple[float, float] = 1e-3
    drag: float = 0.0
    forcing: Forcing = field(default_factory=FNOForcing)
    initial_condition: InitialCondition = field(default_factory=FNOGaussianRandomField)
    stepper: Literal["fno_crank_nicolson", "etdrk2", "etdrk4"] = "etdrk4"
    dt: float = 1e-3
    t_end: float = 1.0
    store_interval: float = 0.1
    burn_in: float = 0.0
    store_velocity: bool = False
    splits: Splits = field(default_factory=Splits)
    seed: int = 0
    chunk_size: int = 16
    dtype: Literal["float32", "float64"] = "float32"
    cfl_max: float = 1.0
    courant: float | None = None

    def __post_init__(self):
        low, high = self.viscosity_range
        if not (0 <= low <= high) or not math.isfinite(high):
            raise ConfigError(
                f"{self.name}: viscosity must be finite and >= 0, got {self.viscosity}"
            )
        if self.drag < 0:
            raise ConfigError(f"{self.name}: drag must be >= 0, got {self.drag}")
        if self.store_resolution > self.solve_resolution:
            raise ConfigError(
                f"{self.name}: storage grid {self.store_resolution}² is finer than the solve grid "
                f"{self.solve_resolution}²; store at the solve resolution or coarser"
            )
        for name in ("solve_resolution", "store_resolution"):
            n = getattr(self, name)
            if n < 4 or n % 2:
                raise ConfigError(f"{self.name}: {name} must be even and >= 4, got {n}")
        if not (self.dt > 0 and self.t_end > 0 and self.store_interval > 0 and self.burn_in >= 0):
            raise ConfigError(f"{self.name}: dt, t_end and store_interval must be > 0")
        if self.burn_in > self.t_end:
            raise ConfigError(f"{self.name}: burn_in {self.burn_in} exceeds t_end {self.t_end}")
        for name in ("store_interval", "burn_in", "t_end"):
            _steps(getattr(self, name), self.dt, f"{self.name}: {name}")
        if self.chunk_size < 1 or self.cfl_max <= 0:
            raise ConfigError(f"{self.name}: chunk_size and cfl_max must be positive")
        if self.courant is not None and not (0 < self.courant <= self.cfl_max):
            raise ConfigError(
                f"{self.name}: courant must be in (0, cfl_max={self.cfl_max}], got {self.courant}"
            )
        if min(self.splits.counts().values()) < 0 or sum(self.splits.counts().values()) == 0:
            raise ConfigError(f"{self.name}: splits need non-negative counts, not all zero")

    @property
    def viscosity_range(self) -> tuple[float, float]:
        if isinstance(self.viscosity, tuple):
            return self.viscosity
        return (self.viscosity, self.viscosity)

    @property
    def steps_per_frame(self) -> int:
        return _steps(self.store_interval, self.dt, "store_interval")

    @property
    def burn_in_steps(self) -> int:
        return _steps(self.burn_in, self.dt, "burn_in")

    @property
    def n_frames(self) -> int:
        """Stored frames per trajectory, the first at ``burn_in``."""
        stored_steps = _steps(self.t_end, self.dt, "t_end") - self.burn_in_steps
        return stored_steps // self.steps_per_frame + 1

    def frame_times(self) -> list[float]:
        return [self.burn_in + j * self.store_interval for j in range(self.n_frames)]

    def replace(self, **changes) -> NavierStokesRecipe:
        return dataclasses.replace(self, **changes)


def _steps(duration: float, dt: float, what: str) -> int:
    steps = round(duration / dt)
    if abs(steps * dt - duration) > 1e-6 * max(duration, dt):
        raise ConfigError(f"{what} = {duration} is not a whole number of steps dt = {dt}")
    return steps
