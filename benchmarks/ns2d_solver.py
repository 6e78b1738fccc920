"""Benchmark of the 2D Navier–Stokes pseudo-spectral solver, with exponax and jax-cfd as peers.

Four sections, each printing a table of medians taken after warm-up (compile time apart):

1. ``per-step``: ms per step and grid points × steps per second for our three steppers and for
   the peers' steppers, plus the time of the FFTs alone of one of our steps.
2. ``accuracy``: wall time of one trajectory of the ``ns2d-fno-nu1e-3`` setting at a relative
   L² error ≤ 1e-4 against a converged float64 reference, at each solver's largest time step
   from a halving sequence that meets the tolerance (and, refined, the largest ``1/m``); our
   ETDRK4 also with CFL-chosen steps (a recipe's ``courant``), at the largest Courant number
   meeting the tolerance; plus a check, in float64, that the peers solve our equation.
3. ``scaling``: throughput of a batched ETDRK4 run on one XLA CPU device against two host
   devices with the batch sharded over a ``data`` mesh axis, by ``jit`` with a
   ``NamedSharding`` and by ``shard_map`` (each configuration in its own subprocess).
4. ``hdf5``: the share of ``neuralpde.datagen.generate`` wall time spent writing.

The peers (the ``bench`` extra: ``exponax``, ``jax-cfd``) are optional: without them their rows
say "not installed". Every peer solves the same equation as ours; see ``README.md`` beside this
file for the conventions that have to be matched and how that is verified.

Run ``python benchmarks/ns2d_solver.py --help`` for the options, ``--quick`` for a fast subset.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from _report import fmt, machine_load, print_table

from neuralpde.grid import PeriodicGrid2D
from neuralpde.ic import gaussian_random_field
from neuralpde.pde import NavierStokes2D, fno_forcing
from neuralpde.solvers import (
    STEPPERS,
    CFLAdaptiveInterval,
    repeat,
    rollout,
    speed_tracking_rollout,
)

# The ns2d-fno-nu1e-3 setting (Li et al. 2021): unit torus, ν = 1e-3, no drag, FNO forcing.
DOMAIN_LENGTH = 1.0
VISCOSITY = 1e-3
DRAG = 0.0
FORCING_AMPLITUDE = 0.1

SpectralState = jax.Array
Step = Callable[[SpectralState], SpectralState]


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Compile time of one jitted call and the median of its timed runs after a warm-up."""

    compile_seconds: float
    median_seconds: float
    runs: int


def time_jitted(function: Callable, *args, repeats: int = 5, budget_seconds: float = 60.0,
                in_shardings=None, out_shardings=None) -> tuple[Timing, object]:
    """Compile ``function`` for ``args``, warm it up once, and time ``repeats`` calls.

    The warm-up run also sets the number of timed runs: ``repeats``, but at least 3 and no more
    than fit into ``budget_seconds``.

    Returns:
        The timing and the output of the last call.
    """
    shardings = {}
    if in_shardings is not None:
        shardings["in_shardings"] = in_shardings
    if out_shardings is not None:
        shardings["out_shardings"] = out_shardings
    jitted = jax.jit(function, **shardings)
    start = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    warm_up = time.perf_counter() - start
    runs = max(3, min(repeats, int(budget_seconds / max(warm_up, 1e-9))))
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        samples.append(time.perf_counter() - start)
    return Timing(compile_seconds, statistics.median(samples), runs), out








# --------------------------------------------------------------------------------------------
# The problem and the solvers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """The FNO-forced Navier–Stokes problem on an ``n × n`` grid in one working dtype."""

    n: int
    dtype: object = jnp.float32

    @property
    def grid(self) -> PeriodicGrid2D:
        return PeriodicGrid2D(self.n, DOMAIN_LENGTH)

    def forcing(self) -> jax.Array:
        """The vorticity forcing ``0.1 (sin 2π(x+y) + cos 2π(x+y))`` on the grid."""
        return fno_forcing(self.grid, FORCING_AMPLITUDE, self.dtype)

    def pde(self) -> NavierStokes2D:
        return NavierStokes2D(self.grid, VISCOSITY, DRAG, self.forcing(), self.dtype)

    def dealias_mask(self) -> jax.Array:
        return self.grid.dealias_mask(self.dtype)

    def initial_spectra(self, batch: int, seed: int = 0) -> jax.Array:
        """``batch`` FNO Gaussian-random-field vorticities as spectra ``(batch, n, n//2+1)``."""
        keys = jax.random.split(jax.random.key(seed), batch)
        fields = jax.vmap(lambda k: gaussian_random_field(k, self.grid, dtype=self.dtype))(keys)
        return jnp.fft.rfft2(fields)


@dataclass(frozen=True)
class Solver:
    """A stepper factory ``(problem, dt) -> step`` on one unbatched spectrum ``(n, n//2+1)``.

    Attributes:
        name: label in the tables.
        make: builds the step function.
        nonlinear_evaluations: evaluations of the advection term per step.
        ffts_per_step: real 2D FFTs (of size ``n²``) per step.
        counterpart: our solver of the same kind, for the peer/ours ratios.
        available: ``False`` when the peer package is not installed.
        dtype: working precision, ``"float32"`` or ``"float64"``.
    """

    name: str
    make: Callable[[Problem, float], Step]
    nonlinear_evaluations: int
    ffts_per_step: int
    counterpart: str
    available: bool = True
    dtype: str = "float32"

    @property
    def complex_dtype(self):
        return jnp.complex128 if self.dtype == "float64" else jnp.complex64


def neuralpde_solver(stepper: str, label: str, dtype: str = "float32") -> Solver:
    """One of our steppers: ``etdrk4``, ``etdrk2`` or ``fno_crank_nicolson``."""
    evaluations = STEPPERS[stepper].nonlinear_evaluations
    return Solver(label, lambda problem, dt: STEPPERS[stepper](problem.pde(), dt),
                  evaluations, 4 * evaluations, label, dtype=dtype)


def package_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@functools.cache
def _exponax_forced_stepper_class():
    """exponax's ``NavierStokesVorticity`` with a constant vorticity forcing added to ``N``.

    exponax 0.2 has no forced vorticity stepper except the Kolmogorov one, which adds its
    injection to the nonlinear term; this subclass adds the FNO forcing the same way, so that
    the ETDRK scheme is exponax's own and the forcing enters as in ours (``N = −u·∇ω + f``).
    """
    import exponax
    from exponax.nonlin_fun import VorticityConvection2d

    class ForcedVorticityConvection2d(VorticityConvection2d):
        forcing_hat: jax.Array

        def __init__(self, *args, forcing_hat, **kwargs):
            super().__init__(*args, **kwargs)
            self.forcing_hat = forcing_hat

        def __call__(self, u_hat):
            return super().__call__(u_hat) + self.forcing_hat

    class ForcedNavierStokesVorticity(exponax.stepper.NavierStokesVorticity):
        forcing_hat: jax.Array

        def __init__(self, *args, forcing_hat, **kwargs):
            self.forcing_hat = forcing_hat  # read by _build_nonlinear_fun during __init__
            super().__init__(*args, **kwargs)

        def _build_nonlinear_fun(self, derivative_operator):
            return ForcedVorticityConvection2d(
                self.num_spatial_dims,
                self.num_points,
                convection_scale=self.vorticity_convection_scale,
                derivative_operator=derivative_operator,
                dealiasing_fraction=self.dealiasing_fraction,
                forcing_hat=self.forcing_hat,
            )

    return ForcedNavierStokesVorticity


def exponax_dealiasing_fraction(n: int) -> float:
    """The exponax fraction whose mask keeps ``|m| < n/3`` per axis, as ours does.

    exponax keeps ``|m| ≤ fraction·(n/2) − 1``; its default 2/3 keeps one mode fewer per axis.
    """
    kept = (n - 1) // 3  # the largest |m| with |m| < n/3
    return (kept + 1) / (n // 2)


def exponax_step(problem: Problem, dt: float, order: int, scale: float = -1.0,
                 fraction: float | None = None) -> Step:
    """exponax's ETDRK stepper of ``order`` on our equation, as a map of ``(n, n//2+1)`` spectra.

    exponax's velocity is ``(∂_y Δ⁻¹ω, −∂_x Δ⁻¹ω)``, the opposite of ours (``ψ = −Δ⁻¹ω``), so
    its advection has the other sign: ``vorticity_convection_scale = −1`` gives our equation
    (its default ``+1`` solves for ``−ω``). Its drag enters as ``+λω`` (ours ``−αω``). By
    default the dealiasing fraction is the one matching our mask
    (:func:`exponax_dealiasing_fraction`); pass ``fraction`` to override it.
    """
    forced = _exponax_forced_stepper_class()
    stepper = forced(
        2, DOMAIN_LENGTH, problem.n, dt,
        diffusivity=VISCOSITY,
        drag=-DRAG,
        vorticity_convection_scale=scale,
        dealiasing_fraction=exponax_dealiasing_fraction(problem.n) if fraction is None
        else fraction,
        order=order,
        forcing_hat=jnp.fft.rfft2(problem.forcing())[None],
    )
    return lambda state: stepper.step_fourier(state[None])[0]


class _GridArrayLike:
    """The one attribute (``data``) that jax-cfd's spectral ``NavierStokes2D`` reads."""

    def __init__(self, data):
        self.data = data


def jax_cfd_step(problem: Problem, dt: float, matched: bool = True) -> Step:
    """jax-cfd's ``crank_nicolson_rk4`` on its spectral ``NavierStokes2D`` with our forcing.

    jax-cfd takes the forcing as a velocity field ``F`` and adds ``curl F``; with
    ``F = (−G, G)``, ``G = A L (sin φ − cos φ)/(4π)``, ``φ = 2π(x+y)/L``, ``curl F = ∂_x G + ∂_y G``
    is the FNO vorticity forcing (sampled on our grid points ``x_i = i L/n``). Its velocity and
    curl conventions are ours. Its brick-wall 2/3 filter keeps the rows ``m_x ∈ [−n/3, n/3)``,
    one fewer than ours; ``matched=True`` replaces it by our mask.
    """
    import jax_cfd.base.grids as cfd_grids
    from jax_cfd.spectral import equations, time_stepping

    x, y = problem.grid.coordinates(problem.dtype)
    phase = 2 * jnp.pi * (x + y) / DOMAIN_LENGTH
    potential = FORCING_AMPLITUDE * DOMAIN_LENGTH * (jnp.sin(phase) - jnp.cos(phase)) / (4 * jnp.pi)
    velocity_forcing = (_GridArrayLike(-potential), _GridArrayLike(potential))

    def forcing_fn(grid):
        return lambda velocity: velocity_forcing

    n = problem.n
    grid = cfd_grids.Grid((n, n), domain=((0, DOMAIN_LENGTH), (0, DOMAIN_LENGTH)))
    equation = equations.NavierStokes2D(VISCOSITY, grid, drag=DRAG, smooth=True,
                                        forcing_fn=forcing_fn)
    if matched:
        equation.filter_ = problem.dealias_mask()
    return time_stepping.crank_nicolson_rk4(equation, dt)


def all_solvers(with_float64: bool = False) -> list[Solver]:
    """Ours, then the peers (marked unavailable where their package is missing), in float32.

    ``with_float64`` adds our FNO-CN in float64, which float32 round-off keeps from 1e-4.
    """
    has_exponax, has_cfd = package_available("exponax"), package_available("jax_cfd")
    extra = [neuralpde_solver("fno_crank_nicolson", "neuralpde FNO-CN float64", "float64")]
    return [
        neuralpde_solver("etdrk4", "neuralpde ETDRK4"),
        neuralpde_solver("etdrk2", "neuralpde ETDRK2"),
        neuralpde_solver("fno_crank_nicolson", "neuralpde FNO-CN"),
        Solver("exponax ETDRK4", functools.partial(exponax_step, order=4), 4, 20,
               "neuralpde ETDRK4", has_exponax),
        Solver("exponax ETDRK2", functools.partial(exponax_step, order=2), 2, 10,
               "neuralpde ETDRK2", has_exponax),
        # 5 stages × (4 inverse + 1 forward FFT), plus the 2 FFTs of the constant velocity
        # forcing, which XLA computes once per step (CSE, not constant-folded).
        Solver("jax-cfd CN-RK4", jax_cfd_step, 5, 27, "neuralpde ETDRK4", has_cfd),
        *(extra if with_float64 else []),
    ]


# --------------------------------------------------------------------------------------------
# 1. Per step
# --------------------------------------------------------------------------------------------


def fft_only_steps(problem: Problem, nonlinear_evaluations: int, steps: int,
                   stacked: bool = False) -> Step:
    """``steps`` steps' worth of our FFTs alone, on one spectrum (vmap it for a batch).

    Per nonlinear evaluation ``NavierStokes2D.nonlinear`` (Basdevant's form) makes two
    ``irfft2`` (``u``, ``v``) and two ``rfft2`` (``uv``, ``v² − u²``), each a separate call;
    this does the same with a minimal glue (two scaled copies, two elementwise combinations),
    so that the FFTs are chained and cannot be elided. With ``stacked=True`` each pair is one
    call on a stack of two.
    """
    grid = problem.grid

    def evaluation(state):
        spectra = [state * scale for scale in (1.0, 0.5)]
        if stacked:
            u, v = grid.to_physical(jnp.stack(spectra))
        else:
            u, v = (grid.to_physical(spectrum) for spectrum in spectra)
        # Elementwise combinations like ``uv`` and ``v² − u²``, linear so that values stay bounded.
        fields = [0.5 * (u + v), 0.5 * (u - v)]
        if stacked:
            first, second = jnp.fft.rfft2(jnp.stack(fields))
        else:
            first, second = (jnp.fft.rfft2(field) for field in fields)
        return 0.5 * (first + second)

    def one_step(_, state):
        for _ in range(nonlinear_evaluations):
            state = evaluation(state)
        return state

    return lambda state: jax.lax.fori_loop(0, steps, one_step, state)


@dataclass
class StepResult:
    solver: str
    n: int
    batch: int
    ffts_per_step: int
    compile_seconds: float | None = None
    ms_per_step: float | None = None
    points_steps_per_second: float | None = None
    fft_only_ms_per_step: float | None = None
    fft_only_stacked_ms_per_step: float | None = None
    note: str = ""


def bench_per_step(sizes: Sequence[int], batches: Sequence[int], steps_per_call: int,
                   repeats: int, dt: float) -> list[StepResult]:
    """Section 1: time ``steps_per_call`` steps per jitted, vmapped call; median of ``repeats``."""
    results = []
    fft_cache: dict[tuple[int, int, int, bool], float] = {}
    for n in sizes:
        problem = Problem(n)
        for batch in batches:
            state = problem.initial_spectra(batch)
            for solver in all_solvers():
                result = StepResult(solver.name, n, batch, solver.ffts_per_step)
                results.append(result)
                if not solver.available:
                    result.note = "not installed"
                    continue
                step = solver.make(problem, dt)
                timing, out = time_jitted(jax.vmap(repeat(step, steps_per_call)), state,
                                          repeats=repeats)
                if not bool(jnp.all(jnp.isfinite(out))):
                    result.note = "non-finite output"
                result.compile_seconds = timing.compile_seconds
                result.ms_per_step = 1e3 * timing.median_seconds / steps_per_call
                result.points_steps_per_second = (
                    batch * n * n * steps_per_call / timing.median_seconds
                )
                if solver.name.startswith("neuralpde"):
                    for stacked in (True, False):
                        key = (n, batch, solver.nonlinear_evaluations, stacked)
                        if key not in fft_cache:
                            kernel = fft_only_steps(problem, key[2], steps_per_call, stacked)
                            fft_timing, _ = time_jitted(jax.vmap(kernel), state,
                                                        repeats=repeats)
                            fft_cache[key] = 1e3 * fft_timing.median_seconds / steps_per_call
                    result.fft_only_ms_per_step = fft_cache[n, batch, key[2], False]
                    result.fft_only_stacked_ms_per_step = fft_cache[n, batch, key[2], True]
    return results


def report_per_step(results: list[StepResult], steps_per_call: int, repeats: int) -> None:
    by_key = {(r.solver, r.n, r.batch): r for r in results}
    counterpart = {s.name: s.counterpart for s in all_solvers()}
    rows = []
    for r in results:
        if r.ms_per_step is None:
            rows.append([r.solver, f"{r.n}²", r.batch, r.ffts_per_step, *["-"] * 7, r.note])
            continue
        mine = by_key.get((counterpart[r.solver], r.n, r.batch))
        ratio = r.ms_per_step / mine.ms_per_step if mine and mine.ms_per_step else None
        fft_ratio = r.ms_per_step / r.fft_only_ms_per_step if r.fft_only_ms_per_step else None
        rows.append([
            r.solver, f"{r.n}²", r.batch, r.ffts_per_step, fmt(r.compile_seconds, 2),
            fmt(r.ms_per_step),
            fmt(r.points_steps_per_second / 1e6), fmt(ratio) if r.solver != counterpart[
                r.solver] else "1", fmt(r.fft_only_ms_per_step),
            fmt(r.fft_only_stacked_ms_per_step), fmt(fft_ratio), r.note,
        ])
    print_table(
        "1. Per step (float32; median after warm-up)",
        ["solver", "grid", "batch", "FFTs", "compile s", "ms/step", "Mpt·step/s", "÷ ours",
         "FFT-only ms", "FFT-only stacked ms", "step ÷ FFT", "note"],
        rows,
        [f"{steps_per_call} steps per jitted call (fori_loop), vmapped over the batch; median of "
         f"{repeats} calls.",
         "FFTs: real 2D FFTs per step (jax-cfd: 5 stages × 5, plus 2 for its velocity "
         "forcing, computed once per step).",
         "÷ ours: time per step over our stepper of the same kind (exponax ETDRKk vs our "
         "ETDRKk, jax-cfd CN-RK4 vs our ETDRK4); > 1 means ours is faster.",
         "FFT-only: the same rfft2/irfft2 calls and batched shapes as one of our steps, alone "
         "(ETDRK4 4×4, ETDRK2 2×4, FNO-CN 1×4 FFTs); step ÷ FFT uses it. FFT-only stacked: the "
         "same FFTs with each pair (2 inverse, 2 forward) as one call on a stack of two.",
         f"During this section: {machine_load()}."],
    )


# --------------------------------------------------------------------------------------------
# 2. Fixed accuracy
# --------------------------------------------------------------------------------------------


@dataclass
class AccuracySetting:
    """Section 2: grid, horizon, tolerance, dt search and reference (see ``--help``)."""

    n: int = 64
    horizon: float = 50.0
    frame_interval: float = 1.0
    tolerance: float = 1e-4
    dt_start: float = 1.0
    max_steps: int = 2**22
    reference_dt: float = 1 / 2**10
    check_dt: float = 1 / 16
    repeats: int = 11
    refine: bool = True
    refine_max_steps: int = 100_000
    with_float64: bool = False
    seed: int = 0
    project_initial_condition: bool = False
    cfl_max_dt: float = 0.25
    courant_start: float = 4.0
    courant_bisections: int = 6

    def steps(self, dt: float) -> tuple[int, int]:
        """(steps per frame, number of frames after the initial one) for ``dt``."""
        per_frame = round(self.frame_interval / dt)
        if abs(per_frame * dt - self.frame_interval) > 1e-9 * self.frame_interval:
            raise ValueError(f"dt={dt} does not divide the frame interval {self.frame_interval}")
        return per_frame, round(self.horizon / self.frame_interval)


def trajectory_function(step: Step, setting: AccuracySetting, dt: float, n: int):
    """``spectrum₀ -> vorticity frames (T, n, n)`` at every ``frame_interval`` after ``t = 0``."""
    per_frame, frames = setting.steps(dt)
    return rollout(repeat(step, per_frame), frames,
                   observe=lambda s: jnp.fft.irfft2(s, s=(n, n)))


def relative_errors(frames: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-frame relative L² error of the vorticity (``inf`` where a frame is not finite)."""
    frames = np.asarray(frames, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        difference = np.linalg.norm(frames - reference, axis=(-2, -1))
    errors = difference / np.linalg.norm(reference, axis=(-2, -1))
    return np.where(np.isfinite(errors), errors, np.inf)


def accuracy_initial_condition(setting: AccuracySetting) -> tuple[np.ndarray, float]:
    """The GRF initial spectrum in float64 and the relative L² norm of its non-2/3-rule modes.

    With ``setting.project_initial_condition`` those modes are removed.
    """
    with jax.enable_x64(True):
        problem = Problem(setting.n, jnp.float64)
        full = problem.initial_spectra(1, setting.seed)[0]
        projected = full * problem.dealias_mask()
        high = float(jnp.linalg.norm(full - projected) / jnp.linalg.norm(full))
        return np.asarray(projected if setting.project_initial_condition else full), high


def reference_frames(setting: AccuracySetting, initial: np.ndarray, dt: float) -> np.ndarray:
    """Our ETDRK4 in float64 at ``dt``: the reference trajectory."""
    with jax.enable_x64(True):
        problem = Problem(setting.n, jnp.float64)
        run = jax.jit(trajectory_function(STEPPERS["etdrk4"](problem.pde(), dt), setting, dt,
                                          setting.n))
        return np.asarray(run(jnp.asarray(initial, jnp.complex128)))


@dataclass
class AccuracyResult:
    """Outcome of the dt search of one solver; ``refined_*`` for dt = frame interval / m."""

    solver: str
    dt: float | None = None
    steps: int | None = None
    max_error: float | None = None
    compile_seconds: float | None = None
    trajectory_seconds: float | None = None
    runs: int | None = None
    refined_dt: float | None = None
    refined_max_error: float | None = None
    refined_trajectory_seconds: float | None = None
    search: list[tuple[float, float]] = field(default_factory=list)
    note: str = ""
    courant: float | None = None
    refined_courant: float | None = None
    refined_steps: int | None = None


def search_dt(solver: Solver, setting: AccuracySetting, initial: np.ndarray,
              reference: np.ndarray) -> AccuracyResult:
    """Halve ``dt`` from ``setting.dt_start`` until the max-over-frames error meets the tolerance.

    Gives up beyond ``setting.max_steps`` steps, or once the error has grown in two successive
    halvings (round-off then dominates, and smaller steps only make it worse). With
    ``setting.refine`` it then bisects over ``dt = frame_interval / m`` between the passing dt
    and the failing ``2 dt`` for the largest such dt that passes.
    """
    result = AccuracyResult(solver.name)
    if not solver.available:
        result.note = "not installed"
        return result
    with jax.enable_x64(solver.dtype == "float64"):
        problem = Problem(setting.n, jnp.dtype(solver.dtype))
        state = jnp.asarray(initial, solver.complex_dtype)

        def max_error(dt: float) -> float:
            run = jax.jit(trajectory_function(solver.make(problem, dt), setting, dt, setting.n))
            error = float(np.max(relative_errors(run(state), reference)))
            result.search.append((dt, error))
            return error

        def timed(dt: float) -> Timing:
            function = trajectory_function(solver.make(problem, dt), setting, dt, setting.n)
            return time_jitted(function, state, repeats=setting.repeats, budget_seconds=60.0)[0]

        dt = setting.dt_start
        while True:
            per_frame, frames = setting.steps(dt)
            errors = [e for _, e in result.search]
            growing = len(errors) >= 3 and errors[-1] > errors[-2] > errors[-3]
            if per_frame * frames > setting.max_steps or growing:
                best_dt, best = min(result.search, key=lambda s: s[1])
                reason = "error grows as dt shrinks (round-off)" if growing else (
                    f"more than {setting.max_steps} steps needed")
                result.note = f"not met: {reason}; best {best:.2e} at dt={best_dt:.3g}"
                return result
            error = max_error(dt)
            if error <= setting.tolerance:
                result.dt, result.steps, result.max_error = dt, per_frame * frames, error
                break
            dt /= 2
        timing = timed(result.dt)
        result.compile_seconds = timing.compile_seconds
        result.trajectory_seconds = timing.median_seconds
        result.runs = timing.runs
        if setting.refine and result.steps <= setting.refine_max_steps:
            passing = round(setting.frame_interval / result.dt)  # steps per frame that pass
            failing = passing // 2  # dt twice as large failed (or was never tried at the start)
            best_error = result.max_error
            while passing - failing > 1:
                middle = (passing + failing) // 2
                error = max_error(setting.frame_interval / middle)
                if error <= setting.tolerance:
                    passing, best_error = middle, error
                else:
                    failing = middle
            result.refined_dt = setting.frame_interval / passing
            result.refined_max_error = best_error
            result.refined_trajectory_seconds = (
                timing.median_seconds if result.refined_dt == result.dt
                else timed(result.refined_dt).median_seconds
            )
    return result


CFL_SOLVER = "neuralpde ETDRK4 CFL steps"


def cfl_trajectory_function(problem: Problem, setting: AccuracySetting):
    """``(spectrum₀, C) -> (vorticity frames (T, n, n), step size of each frame (T,))``: every
    frame interval cut into ETDRK4 steps chosen by the CFL condition at its start, at most
    ``setting.cfl_max_dt`` long, as ``neuralpde generate`` does for a recipe with ``courant``."""
    pde, n = problem.pde(), problem.n
    frames = round(setting.horizon / setting.frame_interval)

    def run(state, courant):
        interval = CFLAdaptiveInterval(STEPPERS["etdrk4"], pde, setting.frame_interval,
                                       setting.cfl_max_dt, courant, problem.grid.dx)

        return speed_tracking_rollout(
            interval, interval.step_size, pde.max_speed, frames,
            observe=lambda c: (jnp.fft.irfft2(c[0], s=(n, n)), c[2]),
        )(state)

    return run


def search_courant(setting: AccuracySetting, initial: np.ndarray,
                   reference: np.ndarray) -> AccuracyResult:
    """The largest Courant number of ``courant_start·2^-k`` meeting the tolerance, then (with
    ``setting.refine``) ``courant_bisections`` bisections between it and twice it; both timed.
    ``C`` is an argument of one compiled trajectory, so the search compiles once."""
    result = AccuracyResult(CFL_SOLVER)
    problem = Problem(setting.n, jnp.float32)
    state = jnp.asarray(initial, jnp.complex64)
    function = cfl_trajectory_function(problem, setting)
    run = jax.jit(function)

    def trial(courant: float) -> tuple[float, int]:
        frames, step_sizes = run(state, jnp.float32(courant))
        error = float(np.max(relative_errors(frames, reference)))
        result.search.append((courant, error))
        steps = int(np.sum(np.round(setting.frame_interval / np.asarray(step_sizes))))
        return error, steps

    def timed(courant: float) -> Timing:  # a fresh function, so that its compile is timed
        return time_jitted(cfl_trajectory_function(problem, setting), state,
                           jnp.float32(courant), repeats=setting.repeats, budget_seconds=60.0)[0]

    courant = setting.courant_start
    while True:
        error, steps = trial(courant)
        if error <= setting.tolerance:
            break
        courant /= 2
        if courant < 1e-3:
            result.note = "not met down to C = 1e-3"
            return result
    result.courant, result.steps, result.max_error = courant, steps, error
    timing = timed(courant)
    result.compile_seconds = timing.compile_seconds
    result.trajectory_seconds, result.runs = timing.median_seconds, timing.runs
    if setting.refine:
        passing, failing = courant, 2 * courant
        best = (error, steps)
        for _ in range(setting.courant_bisections):
            middle = (passing + failing) / 2
            outcome = trial(middle)
            if outcome[0] <= setting.tolerance:
                passing, best = middle, outcome
            else:
                failing = middle
        result.refined_courant = passing
        result.refined_max_error, result.refined_steps = best
        result.refined_trajectory_seconds = (
            timing.median_seconds if passing == courant else timed(passing).median_seconds)
    return result


def peer_frames(setting: AccuracySetting, initial: np.ndarray, make: Callable[[Problem], Step],
                dt: float) -> np.ndarray:
    """Frames of ``make(problem)`` in float64 at ``dt``."""
    with jax.enable_x64(True):
        problem = Problem(setting.n, jnp.float64)
        run = jax.jit(trajectory_function(make(problem), setting, dt, setting.n))
        return np.asarray(run(jnp.asarray(initial, jnp.complex128)))


def same_equation_checks(setting: AccuracySetting, initial: np.ndarray,
                         reference: np.ndarray) -> list[list[str]]:
    """Do the peers solve our equation? Their float64 trajectories against ours.

    exponax's ETDRK4 is our scheme, so at equal dt it agrees with our ETDRK4 to round-off when
    the initial condition has no modes outside the 2/3 rule (``--project-ic``); otherwise its
    dealiasing of the state before the product leaves a difference of order 1e-9. jax-cfd's
    CN-RK4 is another scheme, so it is compared with the reference at ``reference_dt`` (its time
    error there is far below the tolerance).
    """
    rows = []
    if package_available("exponax"):
        dt = setting.check_dt
        ours = peer_frames(setting, initial, lambda p: STEPPERS["etdrk4"](p.pde(), dt), dt)
        variants = [
            ("exponax ETDRK4, matched (scale −1, our 2/3 mask)", {}),
            ("exponax ETDRK4, its default convection scale +1", {"scale": 1.0}),
            ("exponax ETDRK4, its default dealiasing fraction 2/3", {"fraction": 2 / 3}),
        ]
        for label, options in variants:
            frames = peer_frames(setting, initial,
                                 lambda p, o=options: exponax_step(p, dt, 4, **o), dt)
            errors = relative_errors(frames, ours)
            rows.append([label, f"our ETDRK4, dt={dt:g}", f"{np.max(errors):.1e}"])
    if package_available("jax_cfd"):
        dt = setting.reference_dt
        for label, matched in (("jax-cfd CN-RK4, our 2/3 mask", True),
                               ("jax-cfd CN-RK4, its brick-wall filter", False)):
            frames = peer_frames(setting, initial,
                                 lambda p, m=matched: jax_cfd_step(p, dt, matched=m), dt)
            errors = relative_errors(frames, reference)
            rows.append([label, f"reference, dt={dt:g}", f"{np.max(errors):.1e}"])
    return rows


def bench_accuracy(setting: AccuracySetting) -> dict[str, AccuracyResult]:
    """Section 2: the largest dt from the halving sequence meeting the tolerance, then timing."""
    initial, high = accuracy_initial_condition(setting)
    treatment = "removed" if setting.project_initial_condition else "kept"
    print(f"\n[accuracy] grid {setting.n}², T={setting.horizon:g}, frames every "
          f"{setting.frame_interval:g}; initial vorticity: FNO GRF (seed {setting.seed}), its "
          f"modes outside the 2/3 rule ({high:.1e} of its L² norm) {treatment}", flush=True)
    start = time.perf_counter()
    reference = reference_frames(setting, initial, setting.reference_dt)
    half = reference_frames(setting, initial, setting.reference_dt / 2)
    convergence = float(np.max(relative_errors(half, reference)))
    print(f"[accuracy] reference: our ETDRK4, float64, dt={setting.reference_dt:g}; max "
          f"difference to dt/2: {convergence:.1e} ({time.perf_counter() - start:.0f} s)",
          flush=True)
    results = {}
    for solver in all_solvers(with_float64=setting.with_float64):
        start = time.perf_counter()
        result = results[solver.name] = search_dt(solver, setting, initial, reference)
        print(f"[accuracy] {solver.name}: dt={fmt(result.dt)}; search (dt, error): "
              + ", ".join(f"({d:.3g}, {e:.1e})" for d, e in result.search)
              + f" ({time.perf_counter() - start:.0f} s) {result.note}", flush=True)
    start = time.perf_counter()
    result = results[CFL_SOLVER] = search_courant(setting, initial, reference)
    print(f"[accuracy] {CFL_SOLVER} (h ≤ {setting.cfl_max_dt:g}): C={fmt(result.courant)}; "
          "search (C, error): " + ", ".join(f"({c:.3g}, {e:.1e})" for c, e in result.search)
          + f" ({time.perf_counter() - start:.0f} s) {result.note}", flush=True)
    rows, refined_rows = [], []
    for key, table in (("trajectory_seconds", rows), ("refined_trajectory_seconds", refined_rows)):
        ours = getattr(results["neuralpde ETDRK4"], key)
        best_ours = min((getattr(r, key) for name, r in results.items()
                         if name.startswith("neuralpde") and getattr(r, key)), default=None)
        for r in results.values():
            seconds = getattr(r, key)
            refined = key.startswith("refined")
            dt, error = (r.refined_dt, r.refined_max_error) if refined else (r.dt, r.max_error)
            if refined and seconds is None:
                continue
            peer = not r.solver.startswith("neuralpde")
            courant = r.refined_courant if refined else r.courant
            if courant is not None:
                step_column = f"C={courant:.3g}, h≤{setting.cfl_max_dt:g}"
                steps = r.refined_steps if refined else r.steps
            else:
                step_column = fmt(dt)
                steps = round(setting.horizon / dt) if dt else "-"
            table.append([
                r.solver, step_column, steps,
                f"{error:.2e}" if error is not None else "-",
                *([] if refined else [fmt(r.compile_seconds, 2)]),
                fmt(seconds), *([] if refined else [r.runs or "-"]),
                fmt(seconds / ours) if seconds and ours else "-",
                fmt(seconds / best_ours) if seconds and best_ours and peer else "-",
                *([] if refined else [r.note]),
            ])
    print_table(
        f"2. One trajectory at relative L² error ≤ {setting.tolerance:g} ({setting.n}², "
        f"T={setting.horizon:g}, float32 unless named)",
        ["solver", "dt", "steps", "max error", "compile s", "trajectory s", "runs",
         "÷ ours ETDRK4", "÷ our best", "note"],
        rows,
        [f"dt: the largest of {setting.dt_start:g}·2^-k whose relative L² error of the vorticity, "
         f"maximised over the frames (every {setting.frame_interval:g}), is ≤ "
         f"{setting.tolerance:g} against the reference.",
         "trajectory s: median wall time of one jitted trajectory (frames observed in physical "
         "space) after warm-up; ÷ > 1 means ours is faster.",
         f"{CFL_SOLVER}: steps chosen per frame by the CFL condition (C = max|u| h / dx at the "
         f"frame, h ≤ {setting.cfl_max_dt:g}); C the largest of {setting.courant_start:g}·2^-k "
         "meeting the tolerance (2b: then bisected); steps: their total.",
         f"Reference: our ETDRK4 in float64 at dt={setting.reference_dt:g}; it differs from "
         f"the same at dt/2 by {convergence:.1e}.",
         f"During this section: {machine_load()}."],
    )
    if refined_rows:
        print_table(
            f"2b. The same with the largest dt = {setting.frame_interval:g}/m (bisection on m "
            "between the halving-sequence dt and twice it)",
            ["solver", "dt", "steps", "max error", "trajectory s", "÷ ours ETDRK4",
             "÷ our best"],
            refined_rows,
        )
    if package_available("exponax") or package_available("jax_cfd"):
        print_table(
            "2c. Do the peers solve our equation? (float64, max relative L² over the frames)",
            ["peer variant", "compared with", "difference"],
            same_equation_checks(setting, initial, reference),
        )
    return results


# --------------------------------------------------------------------------------------------
# 3. Scaling across cores
# --------------------------------------------------------------------------------------------

EIGEN_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def scaling_child(devices: int, mode: str, n: int, batch: int, steps_per_call: int,
                  repeats: int) -> dict:
    """Run in a subprocess: ETDRK4 throughput with the batch split over ``devices``.

    ``mode="jit"`` shards the input and output of a jitted vmap with a ``NamedSharding`` over the
    ``data`` axis and lets XLA's SPMD partitioner propagate it (as ``datagen.generate`` does);
    ``mode="shard_map"`` maps the vmapped step over the local shards explicitly.
    """
    available = jax.devices()
    if len(available) < devices:
        raise SystemExit(f"asked for {devices} devices, XLA has {len(available)}")
    mesh = jax.sharding.Mesh(np.asarray(available[:devices]), ("data",))
    spec = jax.sharding.PartitionSpec("data")
    sharding = jax.sharding.NamedSharding(mesh, spec)
    problem = Problem(n)
    state = jax.device_put(problem.initial_spectra(batch), sharding)
    batched = jax.vmap(repeat(STEPPERS["etdrk4"](problem.pde(), 1e-3), steps_per_call))
    if mode == "shard_map":
        batched = jax.shard_map(batched, mesh=mesh, in_specs=spec, out_specs=spec)
    timing, _ = time_jitted(batched, state, repeats=repeats, in_shardings=sharding,
                            out_shardings=sharding)
    compiled_text = jax.jit(batched, in_shardings=sharding, out_shardings=sharding).lower(
        state).compile().as_text()
    collectives = sum(compiled_text.count(f" {op}(") for op in
                      ("all-gather", "all-reduce", "all-to-all", "collective-permute"))
    return {
        "devices": devices,
        "mode": mode,
        "collectives": collectives,
        "compile_seconds": timing.compile_seconds,
        "median_seconds": timing.median_seconds,
        "trajectory_steps_per_second": batch * steps_per_call / timing.median_seconds,
    }


@dataclass
class ScalingConfig:
    label: str
    devices: int
    mode: str = "jit"
    pin_one_core: bool = False
    eigen_single_thread: bool = False


SCALING_CONFIGS = [
    ScalingConfig("1 device, pinned to 1 core (taskset -c 0)", 1, pin_one_core=True),
    ScalingConfig("1 device, 2 cores", 1),
    ScalingConfig("2 devices, jit + NamedSharding", 2),
    ScalingConfig("2 devices, shard_map", 2, "shard_map"),
    ScalingConfig("1 device, pinned to 1 core, + eigen flags", 1, pin_one_core=True,
                  eigen_single_thread=True),
    ScalingConfig("2 devices, jit + NamedSharding, + eigen flags", 2, eigen_single_thread=True),
    ScalingConfig("2 devices, shard_map, + eigen flags", 2, "shard_map",
                  eigen_single_thread=True),
]


def bench_scaling(n: int, batch: int, steps_per_call: int, repeats: int) -> list[dict]:
    """Section 3: one subprocess per configuration, since XLA_FLAGS is read at jax import."""
    results = []
    for config in SCALING_CONFIGS:
        flags = [os.environ.get("XLA_FLAGS", "")]
        if config.devices > 1:
            flags.append(f"--xla_force_host_platform_device_count={config.devices}")
        if config.eigen_single_thread:
            flags.append(EIGEN_SINGLE_THREAD)
        env = dict(os.environ, XLA_FLAGS=" ".join(f for f in flags if f), JAX_PLATFORMS="cpu")
        command = [sys.executable, __file__, "--scaling-child", str(config.devices),
                   "--scaling-mode", config.mode,
                   "--scaling-size", str(n), "--scaling-batch", str(batch),
                   "--steps-per-call", str(steps_per_call), "--repeats", str(repeats)]
        if config.pin_one_core:
            if shutil.which("taskset") is None:
                results.append({"label": config.label, "error": "taskset not found"})
                continue
            command = ["taskset", "-c", "0", *command]
        completed = subprocess.run(command, env=env, capture_output=True, text=True)
        if completed.returncode:
            results.append({"label": config.label, "error": completed.stderr.strip()[-300:]})
            continue
        child = json.loads(completed.stdout.strip().splitlines()[-1])
        results.append({"label": config.label, "xla_flags": env["XLA_FLAGS"], **child})
    baseline = {r["label"]: r.get("trajectory_steps_per_second") for r in results}
    one_core = baseline.get(SCALING_CONFIGS[0].label)
    rows = [
        [r["label"], r.get("collectives", "-"), fmt(r.get("compile_seconds"), 2),
         fmt(1e3 * r["median_seconds"] / steps_per_call) if "median_seconds" in r else "-",
         fmt(r.get("trajectory_steps_per_second")),
         fmt(r["trajectory_steps_per_second"] / one_core)
         if one_core and r.get("trajectory_steps_per_second") else "-",
         r.get("error", "")]
        for r in results
    ]
    print_table(
        f"3. Scaling across cores: ETDRK4, {n}² × {batch} trajectories, float32",
        ["configuration", "collectives", "compile s", "ms/step (batch)", "traj·steps/s",
         "× 1-core", "error"],
        rows,
        [f"Each configuration runs in its own subprocess; {steps_per_call} steps per call, "
         f"median of {repeats} calls. × 1-core: throughput over the pinned 1-device baseline.",
         f"eigen flags: XLA_FLAGS += '{EIGEN_SINGLE_THREAD}'.",
         "collectives: all-gather/all-reduce/all-to-all/collective-permute ops in the compiled "
         "program (the SPMD partitioner does not split FFTs along a batch axis: it gathers the "
         "whole batch onto every device before each FFT).",
         f"During this section: {machine_load()}."],
    )
    return results


# --------------------------------------------------------------------------------------------
# 4. HDF5 write share
# --------------------------------------------------------------------------------------------


def hdf5_recipes(quick: bool) -> list:
    """ns2d-tiny, and unless ``quick`` a larger variant (128² solve, 64² stored with velocity)."""
    from neuralpde.datagen import load_recipe
    from neuralpde.datagen.navier_stokes_recipe import Splits

    tiny = load_recipe("ns2d-tiny")
    if quick:
        return [tiny]
    larger = tiny.replace(name="ns2d-bench-128", solve_resolution=128, store_resolution=64,
                          store_velocity=True, t_end=10.0, store_interval=0.1,
                          splits=Splits(train=32, valid=8, test=8), chunk_size=16)
    return [tiny, larger]


def bench_hdf5(quick: bool) -> list[dict]:
    """Section 4: ``generate`` each recipe into a temporary folder and split its wall time."""
    from neuralpde.datagen import generate

    results = []
    for recipe in hdf5_recipes(quick):
        with tempfile.TemporaryDirectory(prefix="ns2d-bench-") as out:
            start = time.perf_counter()
            report = generate(recipe, out, progress=False)
            total = time.perf_counter() - start
            size = sum(f.stat().st_size for f in report.files)
        share = report.seconds_writing / (report.seconds_solving + report.seconds_writing)
        # generate() compiles inside its first timed solve, so seconds_solving includes it.
        steady = report.seconds_writing / (
            report.seconds_solving - report.compile_seconds + report.seconds_writing)
        results.append({
            "recipe": recipe.name, "trajectories": report.trajectories,
            "solve_grid": recipe.solve_resolution, "store_grid": recipe.store_resolution,
            "frames": recipe.n_frames, "megabytes": size / 1e6,
            "compile_seconds": report.compile_seconds, "seconds_solving": report.seconds_solving,
            "seconds_writing": report.seconds_writing, "write_share": share,
            "write_share_without_compile": steady,
            "wall_seconds": total,
        })
    rows = [[r["recipe"], r["trajectories"], f"{r['solve_grid']}²→{r['store_grid']}²",
             r["frames"], fmt(r["megabytes"]), fmt(r["compile_seconds"], 2),
             fmt(r["seconds_solving"]), fmt(r["seconds_writing"]),
             f"{100 * r['write_share']:.1f}%", f"{100 * r['write_share_without_compile']:.1f}%",
             fmt(r["wall_seconds"])] for r in results]
    print_table(
        "4. HDF5 write share of neuralpde.datagen.generate",
        ["recipe", "traj", "grids", "frames", "MB", "compile s", "solving s", "writing s",
         "write share", "w/o compile", "wall s"],
        rows,
        ["write share = seconds_writing / (seconds_solving + seconds_writing) from the "
         "GenerationReport (writing: chunk files with fsync, HDF5 assembly and validation); "
         "solving includes the device-to-host copy and, as generate() times it, the compile; "
         "'w/o compile' subtracts report.compile_seconds from it.",
         f"During this section: {machine_load()}."],
    )
    return results


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

SECTIONS = ("per-step", "accuracy", "scaling", "hdf5")


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--quick", action="store_true",
                        help="a fast subset: 64² only, batch 1 and 8, T=5, 64² × 8 scaling, "
                        "ns2d-tiny only")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--steps-per-call", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7, help="timed calls after warm-up")
    parser.add_argument("--dt", type=float, default=1e-3, help="time step of section 1")
    parser.add_argument("--accuracy-grid", type=int, default=64)
    parser.add_argument("--horizon", type=float, default=50.0, help="T of section 2")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--dt-start", type=float, default=1.0,
                        help="first dt of the halving sequence (must divide the frame interval)")
    parser.add_argument("--no-refine", action="store_true",
                        help="skip the bisection for the largest dt = frame interval / m")
    parser.add_argument("--fno-cn-float64", action="store_true",
                        help="add our FNO-CN in float64 to section 2 (minutes: ~1.6M steps)")
    parser.add_argument("--project-ic", action="store_true",
                        help="remove the initial modes outside the 2/3 rule in section 2")
    parser.add_argument("--max-steps", type=int, default=2**22,
                        help="give up the dt search beyond this many steps per trajectory")
    parser.add_argument("--reference-dt", type=float, default=1 / 2**10)
    parser.add_argument("--cfl-max-dt", type=float, default=0.25,
                        help="longest step of the CFL-stepped row of section 2")
    parser.add_argument("--scaling-size", type=int, default=128)
    parser.add_argument("--scaling-batch", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write all results to this file")
    parser.add_argument("--scaling-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--scaling-mode", choices=("jit", "shard_map"), default="jit",
                        help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.sizes = [64]
        arguments.batches = [1, 8]
        arguments.repeats = 5
        arguments.horizon = 5.0
        arguments.scaling_size = 64
        arguments.scaling_batch = 8
    return arguments


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    if arguments.scaling_child is not None:
        print(json.dumps(scaling_child(arguments.scaling_child, arguments.scaling_mode,
                                       arguments.scaling_size,
                                       arguments.scaling_batch, arguments.steps_per_call,
                                       arguments.repeats)))
        return
    peers = {name: "installed" if package_available(module) else "not installed"
             for name, module in (("exponax", "exponax"), ("jax-cfd", "jax_cfd"))}
    print(f"# ns2d solver benchmark: jax {jax.__version__}, {jax.devices()[0].platform} × "
          f"{len(jax.devices())}, {os.cpu_count()} cores; peers: {peers}; {machine_load()}")
    results: dict[str, object] = {"arguments": {k: str(v) for k, v in vars(arguments).items()}}
    if "per-step" in arguments.sections:
        per_step = bench_per_step(arguments.sizes, arguments.batches, arguments.steps_per_call,
                                  arguments.repeats, arguments.dt)
        report_per_step(per_step, arguments.steps_per_call, arguments.repeats)
        results["per_step"] = [asdict(r) for r in per_step]
    if "accuracy" in arguments.sections:
        setting = AccuracySetting(
            n=arguments.accuracy_grid, horizon=arguments.horizon,
            tolerance=arguments.tolerance, dt_start=arguments.dt_start,
            max_steps=arguments.max_steps, reference_dt=arguments.reference_dt,
            project_initial_condition=arguments.project_ic,
            repeats=max(arguments.repeats, 11), refine=not arguments.no_refine,
            with_float64=arguments.fno_cn_float64, cfl_max_dt=arguments.cfl_max_dt,
        )
        results["accuracy"] = {k: asdict(v) for k, v in bench_accuracy(setting).items()}
    if "scaling" in arguments.sections:
        results["scaling"] = bench_scaling(arguments.scaling_size, arguments.scaling_batch,
                                           arguments.steps_per_call, arguments.repeats)
    if "hdf5" in arguments.sections:
        results["hdf5"] = bench_hdf5(arguments.quick)
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
