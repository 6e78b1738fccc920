"""One porous-medium trajectory from a recipe, its file layout, and its health check.

``simulate_trajectory(recipe, key)`` is pure and unbatched; the generator vmaps and shards it, so
a trajectory's data depend only on its key (each trajectory keeps its own adaptive steps).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from neuralpde._typing import Array, PRNGKeyArray
from neuralpde.cell_grid import CellGrid
from neuralpde.datagen.errors import GenerationError, SolverStalledError
from neuralpde.datagen.porous_medium_recipe import (
    BarenblattSpec,
    HeatModeSpec,
    PorousMediumRecipe,
    StefanSpec,
    TravellingFrontSpec,
    bounds,
)
from neuralpde.io import FileLayout
from neuralpde.pde.boundary import Dirichlet, Neumann, NoFlux, Periodic
from neuralpde.pde.diffusivity import ConstantDiffusivity, PowerDiffusivity, StepDiffusivity
from neuralpde.pde.porous_medium import GeneralizedPorousMedium
from neuralpde.pde.porous_medium_exact import (
    Barenblatt,
    HeatMode,
    StefanSimilarity,
    TravellingFront,
)
from neuralpde.solvers import SolverOptions, solve_porous_medium

WELL_BOUNDARY = {"periodic": "PERIODIC", "no_flux": "WALL", "dirichlet": "OPEN", "neumann": "OPEN"}


def cell_grid(recipe: PorousMediumRecipe) -> CellGrid:
    return CellGrid(tuple(recipe.lower), tuple(recipe.upper), tuple(recipe.resolution))


def sample_parameter(recipe: PorousMediumRecipe, key: PRNGKeyArray, dtype) -> Array:
    """Uniform on the recipe's range of the varied parameter (the value itself if fixed)."""
    d = recipe.diffusivity
    value = {"constant": "value", "power": "exponent", "step": "threshold"}[d.kind]
    low, high = bounds(getattr(d, value))
    return (low + (high - low) * jax.random.uniform(key, (), dtype)).astype(dtype)


def build(recipe: PorousMediumRecipe, parameter: Array):
    """``(equation, exact solution)`` of the recipe for one value of its parameter."""
    grid = cell_grid(recipe)
    d, s = recipe.diffusivity, recipe.solution
    if d.kind == "constant":
        diffusivity = ConstantDiffusivity(parameter)
    elif d.kind == "power":
        diffusivity = PowerDiffusivity(parameter)
    else:
        diffusivity = StepDiffusivity(parameter, d.high, d.low, d.width)
    if isinstance(s, HeatModeSpec):
        exact = HeatMode(parameter, tuple(s.wavenumbers), tuple(recipe.lower), s.amplitude)
    elif isinstance(s, TravellingFrontSpec):
        exact = TravellingFront(parameter)
    elif isinstance(s, BarenblattSpec):
        center = s.center or tuple((a + b) / 2 for a, b in zip(recipe.lower, recipe.upper,
                                                                 strict=True))
        exact = Barenblatt.from_peak_and_radius(parameter, s.peak, s.radius, center, grid.ndim)
    elif isinstance(s, StefanSpec):
        exact = StefanSimilarity(parameter, d.high)
    else:
        raise TypeError(f"unknown solution {s!r}")
    conditions = []
    for name in grid.axis_names:
        low, high = (recipe.boundaries[f"{name}_{side}"] for side in ("low", "high"))
        if low.kind == "periodic":
            conditions.append(Periodic())
        else:
            conditions.append((_side(low, exact), _side(high, exact)))
    return GeneralizedPorousMedium(grid, diffusivity, tuple(conditions)), exact


def _side(spec, exact):
    if spec.kind == "no_flux":
        return NoFlux()
    if spec.kind == "neumann":
        return Neumann(spec.value)
    return Dirichlet(exact if spec.value is None else spec.value)


def simulate_trajectory(recipe: PorousMediumRecipe, key: PRNGKeyArray) -> dict[str, Array]:
    """Sample the parameter from ``key``, start from the exact solution at ``t = 0`` and solve.

    Returns (``T = recipe.n_frames``): ``u (T, *space)``, ``mass (T,)``, one
    ``boundary_flux_<side> (T,)`` per side (inflow over the interval ending at each frame),
    the parameter ``()``, ``finite (T,)`` and ``initial_minimum ()``.
    """
    dtype = jnp.dtype(recipe.dtype)
    parameter = sample_parameter(recipe, key, dtype)
    pde, exact = build(recipe, parameter)
    u0 = exact(jnp.zeros((), dtype), pde.grid.points(dtype))
    times = jnp.asarray(recipe.frame_times(), dtype)
    options = SolverOptions(method=recipe.solver.method, rtol=recipe.solver.rtol,
                            atol=recipe.solver.atol, max_steps=recipe.solver.max_steps)
    solution = solve_porous_medium(pde, u0, times, options)
    frames = {
        "u": solution["u"],
        "mass": solution["mass"],
        recipe.parameter_name: parameter,
        "finite": solution["finite"],
        "initial_minimum": jnp.min(u0),
    }
    for i, side in enumerate(pde.grid.boundary_names()):
        frames[f"boundary_flux_{side}"] = solution["boundary_flux"][:, i]
    return frames


def file_layout(recipe: PorousMediumRecipe, count: int) -> FileLayout:
    grid = cell_grid(recipe)
    boundary_types = {
        name: tuple(WELL_BOUNDARY[recipe.boundaries[f"{name}_{s}"].kind] for s in ("low", "high"))
        for name in grid.axis_names
    }
    return FileLayout(
        dataset_name=recipe.name,
        n_trajectories=count,
        time=np.asarray(recipe.frame_times()),
        coordinates={name: grid.centers(d) for d, name in enumerate(grid.axis_names)},
        boundary_types=boundary_types,
        fields={"u": 0},
        sample_scalars=(recipe.parameter_name,),
        time_series=("mass", *(f"boundary_flux_{s}" for s in grid.boundary_names())),
        constants={"cell_volume": grid.cell_volume},
    )


def check_health(recipe: PorousMediumRecipe, split: str, indices, arrays) -> None:
    """Raise :class:`SolverStalledError` naming the trajectory, where it stalled and what to do.

    A negative initial field of a porous-medium recipe raises :class:`GenerationError`.
    """
    if recipe.diffusivity.kind == "power":
        negative = np.flatnonzero(arrays["initial_minimum"] < 0)
        if negative.size:
            row = negative[0]
            raise GenerationError(
                f"{recipe.name}: {split} trajectory {int(indices[row])} starts with a negative "
                f"value {arrays['initial_minimum'][row]:.3g}; the porous-medium equation needs "
                "u >= 0"
            )
    bad = ~arrays["finite"]
    if not bad.any():
        return
    row, frame = np.argwhere(bad)[0]
    times = recipe.frame_times()
    reached = times[frame - 1] if frame > 0 else 0.0
    raise SolverStalledError(
        f"{recipe.name}: the solver stalled in {split} trajectory {int(indices[row])} "
        f"({recipe.parameter_name} = {arrays[recipe.parameter_name][row]:.4g}) after t = "
        f"{reached:.6g}, before t = {times[frame]:.6g}, within its budget of "
        f"{recipe.solver.max_steps} steps (method {recipe.solver.method}, rtol "
        f"{recipe.solver.rtol}). Raise solver.max_steps, loosen the tolerances, or shorten "
        "t_end; no finished file was written for this split"
    )
