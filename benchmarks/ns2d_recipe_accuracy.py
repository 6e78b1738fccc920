"""Accuracy of the FNO recipes' solve settings against a converged float64 reference.

For one FNO initial condition (seed 0, sampled at 256²) and one viscosity, solves the FNO
Navier–Stokes setting to ``--horizon`` with several (grid, stepper, dt) settings in float32,
stores every time unit at 64² by spectral truncation, and prints the relative L2 error of the
stored trajectory against ETDRK4 at 256², dt = 1e-3, in float64. The original FNO generator
(Crank–Nicolson + explicit Euler, 256², dt = 1e-4) is one of the rows. Rows with a Courant
number take their steps as a recipe with ``courant`` does (``dt`` is then the longest step).

    .venv/bin/python benchmarks/ns2d_recipe_accuracy.py --viscosity 1e-3 --horizon 10
"""

from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from neuralpde.grid import PeriodicGrid2D  # noqa: E402
from neuralpde.ic import gaussian_random_field  # noqa: E402
from neuralpde.pde import NavierStokes2D, fno_forcing  # noqa: E402
from neuralpde.solvers import STEPPERS, CFLAdaptiveInterval, repeat  # noqa: E402

# (solve grid, stepper, dt, Courant number or None for a fixed dt)
SETTINGS = [
    (96, "etdrk4", 1e-2, None),
    (128, "etdrk4", 2e-2, None),
    (128, "etdrk4", 1e-2, None),
    (128, "etdrk4", 5e-3, None),
    (128, "etdrk4", 0.25, 2.0),
    (128, "etdrk4", 0.25, 1.0),
    (128, "etdrk4", 0.25, 0.5),
    (256, "etdrk4", 1e-2, None),
    (256, "fno_crank_nicolson", 1e-4, None),
]


def stored_trajectory(initial_256, viscosity, horizon, n, stepper, dt, dtype, courant=None):
    """Frames at t = 1..horizon on the 64² storage grid, the wall time of the solve, and the
    number of steps taken."""
    fine = PeriodicGrid2D(256, 1.0)
    grid, store = PeriodicGrid2D(n, 1.0), PeriodicGrid2D(64, 1.0)
    w0 = grid.to_physical(fine.truncate(fine.to_spectral(initial_256), n))
    pde = NavierStokes2D(grid, viscosity, 0.0, fno_forcing(grid, dtype=dtype), dtype)
    if courant is None:
        per_frame = round(1.0 / dt)
        step = repeat(STEPPERS[stepper](pde, dt), per_frame)

        def advance(w):
            return step(w), jnp.asarray(per_frame)
    else:
        interval = CFLAdaptiveInterval(STEPPERS[stepper], pde, 1.0, dt, courant, grid.dx)

        def advance(w):
            w, h = interval(w)
            return w, jnp.round(1.0 / h).astype(int)

    def frame(w, _):
        w, steps = advance(w)
        return w, (store.to_physical(grid.truncate(w, 64)), steps)

    def solve(w):
        return jax.lax.scan(frame, w, length=horizon)[1]

    run = jax.jit(solve)
    w_hat = grid.to_spectral(w0.astype(dtype))
    jax.block_until_ready(run(w_hat))  # compile
    start = time.perf_counter()
    frames, steps = jax.block_until_ready(run(w_hat))
    return np.asarray(frames), time.perf_counter() - start, int(np.sum(steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viscosity", type=float, default=1e-3)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--rows", type=int, nargs="+", default=list(range(len(SETTINGS))),
                        help="indices into SETTINGS (0-based) to run")
    args = parser.parse_args()
    fine = PeriodicGrid2D(256, 1.0)
    initial = gaussian_random_field(jax.random.key(0), fine, dtype=jnp.float64)
    reference, _, _ = stored_trajectory(initial, args.viscosity, args.horizon, 256, "etdrk4",
                                        1e-3, jnp.float64)
    print(f"nu = {args.viscosity:g}, T = {args.horizon}, reference ETDRK4 256² dt=1e-3 float64")
    print(f"{'grid':>5} {'stepper':>20} {'dt':>8} {'courant':>8} {'steps':>7} "
          f"{'rel L2 (all frames)':>20} {'final frame':>12} {'solve s':>8}")
    for n, stepper, dt, courant in (SETTINGS[i] for i in args.rows):
        frames, seconds, steps = stored_trajectory(
            initial, args.viscosity, args.horizon, n, stepper, dt, jnp.float32, courant
        )
        total = np.linalg.norm(frames - reference) / np.linalg.norm(reference)
        last = np.linalg.norm(frames[-1] - reference[-1]) / np.linalg.norm(reference[-1])
        label = "fixed" if courant is None else f"{courant:g}"
        print(f"{n:>5} {stepper:>20} {dt:>8g} {label:>8} {steps:>7} {total:>20.2e} "
              f"{last:>12.2e} {seconds:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
