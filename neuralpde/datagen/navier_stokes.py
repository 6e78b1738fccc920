"""One Navier–Stokes trajectory from a recipe (sample, solve fine, observe coarse), its file layout.

``simulate_trajectory(recipe, key)`` is pure and unbatched; the generator vmaps and shards it.
Per stored frame it returns the vorticity (and optionally velocity) on the storage grid, the
invariants of that stored field, the step size when the CFL condition chooses it, and health
flags (finite, CFL number on the solve grid).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from neuralpde._typing import Array, Float, PRNGKeyArray
from neuralpde.datagen.errors import BlowUpError
from neuralpde.datagen.navier_stokes_recipe import (
    EnergySpectrumField,
    FNOForcing,
    FNOGaussianRandomField,
    KolmogorovForcing,
    NavierStokesRecipe,
    NoForcing,
    TaylorGreenField,
)
from neuralpde.grid import PeriodicGrid2D
from neuralpde.ic import energy_spectrum_field, gaussian_random_field, taylor_green
from neuralpde.io import FileLayout
from neuralpde.pde import NavierStokes2D, fno_forcing, kolmogorov_forcing
from neuralpde.solvers import STEPPERS, CFLAdaptiveInterval, repeat, speed_tracking_rollout


def solve_grid(recipe: NavierStokesRecipe) -> PeriodicGrid2D:
    return PeriodicGrid2D(recipe.solve_resolution, recipe.domain_length)


def store_grid(recipe: NavierStokesRecipe) -> PeriodicGrid2D:
    return PeriodicGrid2D(recipe.store_resolution, recipe.domain_length)


def forcing_field(recipe: NavierStokesRecipe, grid: PeriodicGrid2D, dtype):
    forcing = recipe.forcing
    if isinstance(forcing, FNOForcing):
        return fno_forcing(grid, forcing.amplitude, dtype)
    if isinstance(forcing, KolmogorovForcing):
        return kolmogorov_forcing(grid, forcing.wavenumber, forcing.amplitude, dtype)
    if isinstance(forcing, NoForcing):
        return None
    raise TypeError(f"unknown forcing {forcing!r}")


def initial_vorticity(recipe: NavierStokesRecipe, key: PRNGKeyArray, grid: PeriodicGrid2D, dtype):
    ic = recipe.initial_condition
    if isinstance(ic, FNOGaussianRandomField):
        return gaussian_random_field(key, grid, ic.alpha, ic.tau, dtype=dtype)
    if isinstance(ic, EnergySpectrumField):
        return energy_spectrum_field(key, grid, ic.peak_wavenumber, ic.energy, dtype)
    if isinstance(ic, TaylorGreenField):
        return taylor_green(grid, ic.wavenumber, ic.amplitude, dtype=dtype)
    raise TypeError(f"unknown initial condition {ic!r}")


def sample_viscosity(recipe: NavierStokesRecipe, key: PRNGKeyArray, dtype) -> Float[Array, ""]:
    """Log-uniform on ``recipe.viscosity_range`` (the constant itself when the range is a point)."""
    low, high = recipe.viscosity_range
    if low == high:
        return jnp.asarray(low, dtype)
    u = jax.random.uniform(key, (), dtype)
    return jnp.exp(jnp.log(low) + u * (jnp.log(high) - jnp.log(low))).astype(dtype)


def frame_stepping(recipe: NavierStokesRecipe, pde: NavierStokes2D, grid: PeriodicGrid2D):
    """``(advance, first_step, burn_in)`` for the recipe's time-step mode.

    ``advance(ω̂, max|u|) -> (ω̂ one store interval later, step size used)``,
    ``first_step(max|u|)`` is the step size assigned at the first stored frame, and
    ``burn_in(ω̂)`` advances through the burn-in (the identity when there is none).
    """
    stepper = STEPPERS[recipe.stepper]
    if recipe.courant is None:
        step = stepper(pde, recipe.dt)
        dt = jnp.asarray(recipe.dt, pde.viscosity.dtype)
        frame = repeat(step, recipe.steps_per_frame)
        burn = repeat(step, recipe.burn_in_steps) if recipe.burn_in_steps else (lambda w: w)
        return (lambda w_hat, speed: (frame(w_hat), dt)), (lambda speed: dt), burn

    def interval(duration):
        return CFLAdaptiveInterval(
            stepper, pde, duration, recipe.dt, recipe.courant, grid.dx
        )

    frame = interval(recipe.store_interval)
    parts = math.ceil(recipe.burn_in / recipe.store_interval - 1e-9)
    if parts == 0:
        return frame, frame.step_size, lambda w: w
    burn_part = interval(recipe.burn_in / parts)
    return frame, frame.step_size, (
        lambda w_hat: jax.lax.fori_loop(0, parts, lambda _, w: burn_part(w)[0], w_hat)
    )


def simulate_trajectory(recipe: NavierStokesRecipe, key: PRNGKeyArray) -> dict[str, Array]:
    """Sample parameters and an initial condition from ``key`` and solve.

    Returns a dict of arrays (``T = recipe.n_frames``, ``M = recipe.store_resolution``):
        ``vorticity (T, M, M)``, ``velocity (T, M, M, 2)`` if stored, ``energy (T,)``
        ``= ⟨|u|²⟩/2``, ``enstrophy (T,)`` ``= ⟨ω²⟩/2``, ``mean_vorticity (T,)``, ``viscosity ()``,
        ``time_step (T,)`` with a CFL-chosen step (the step that led to each frame; at the first
        frame, the one assigned there), ``cfl (T,)`` on the solve grid, ``finite (T,)``.
    """
    dtype = jnp.dtype(recipe.dtype)
    grid, coarse = solve_grid(recipe), store_grid(recipe)
    ic_key, parameter_key = jax.random.split(key)
    viscosity = sample_viscosity(recipe, parameter_key, dtype)
    pde = NavierStokes2D(grid, viscosity, recipe.drag, forcing_field(recipe, grid, dtype), dtype)
    coarse_pde = NavierStokes2D(coarse, viscosity, recipe.drag, None, dtype)
    advance, first_step, burn_in = frame_stepping(recipe, pde, grid)

    def observe(carry):
        w_hat, speed, dt = carry
        stored_hat = grid.truncate(w_hat, coarse.n)
        vorticity = coarse.to_physical(stored_hat)
        psi_hat = coarse_pde.stream_function(stored_hat)
        frame = {
            "vorticity": vorticity,
            "energy": 0.5 * coarse.mean_product(stored_hat, psi_hat),
            "enstrophy": 0.5 * coarse.mean_product(stored_hat, stored_hat),
            "mean_vorticity": jnp.real(stored_hat[0, 0]) / coarse.n**2,
            "cfl": speed * dt / grid.dx,
            "finite": jnp.all(jnp.isfinite(vorticity)),
        }
        if recipe.courant is not None:
            frame["time_step"] = dt
        if recipe.store_velocity:
            velocity = coarse.to_physical(jnp.stack(coarse_pde.velocity(stored_hat)))
            frame["velocity"] = jnp.moveaxis(velocity, 0, -1)
        return frame

    w_hat = burn_in(grid.to_spectral(initial_vorticity(recipe, ic_key, grid, dtype)))
    frames = speed_tracking_rollout(
        advance, first_step, pde.max_speed, recipe.n_frames - 1, include_init=True,
        observe=observe,
    )(w_hat)
    frames["viscosity"] = viscosity
    return frames


FIELDS = {"vorticity": 0, "velocity": 1}
TIME_SERIES = ("energy", "enstrophy", "mean_vorticity")
ADAPTIVE_TIME_SERIES = ("time_step",)


def file_layout(recipe: NavierStokesRecipe, count: int) -> FileLayout:
    n = recipe.store_resolution
    coordinate = np.arange(n) * (recipe.domain_length / n)
    return FileLayout(
        dataset_name=recipe.name,
        n_trajectories=count,
        time=np.asarray(recipe.frame_times()),
        coordinates={"x": coordinate, "y": coordinate},
        boundary_types={"x": "PERIODIC", "y": "PERIODIC"},
        fields={k: v for k, v in FIELDS.items() if k == "vorticity" or recipe.store_velocity},
        sample_scalars=("viscosity",),
        time_series=TIME_SERIES + (ADAPTIVE_TIME_SERIES if recipe.courant is not None else ()),
        constants={"drag": recipe.drag, "domain_length": recipe.domain_length},
    )


def check_health(recipe: NavierStokesRecipe, split: str, indices, arrays) -> None:
    """Raise :class:`BlowUpError` at the first non-finite frame or CFL violation."""
    bad = ~arrays["finite"] | (arrays["cfl"] > recipe.cfl_max)
    if not bad.any():
        return
    row, frame = np.argwhere(bad)[0]
    t = recipe.frame_times()[frame]
    cfl = arrays["cfl"][row, frame]
    reason = "NaN or Inf in the vorticity" if not arrays["finite"][row, frame] else (
        f"CFL number {cfl:.3g} exceeds cfl_max={recipe.cfl_max}"
    )
    raise BlowUpError(
        f"{recipe.name}: blow-up in {split} trajectory {int(indices[row])} at t={t:.6g}: "
        f"{reason}. Reduce dt (now {recipe.dt}) or raise the resolution; no finished file was "
        "written for this split"
    )
