"""Window loading from disk: samples per second of :class:`neuralpde.data.ShardedBatches`.

Generates its own dataset in a temporary directory (64² Navier–Stokes, vorticity and velocity,
``--trajectories`` trajectories of ``--frames`` frames), then reads windows of 10 frames in and 1
out in global batches of 16, shuffled, through grain with ``num_threads`` reader threads, onto
all local devices. Each row is the median over ``--repeats`` timings of ``--batches`` batches,
after a warm-up of as many batches; the first row indexes the source in a plain loop (no grain,
no device transfer) as the reference. The files were just written, so they are read through
the OS page cache, as they are in a training run that fits in memory.

The last rows compare with training: the samples per second of the real train step
(:class:`neuralpde.training.step.TrainStep`: an FNO with 12 modes and width 32, one-step MSE,
AdamW) on one fixed batch, and the same step fed by the loader. Loading is not the bottleneck
when the second matches the first.

    .venv/bin/python benchmarks/data_loading.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from neuralpde.data import ShardedBatches, TrajectoryWindows, split_files
from neuralpde.datagen import generate
from neuralpde.datagen.navier_stokes_recipe import NavierStokesRecipe, Splits

HISTORY, FUTURE, BATCH = 10, 1, 16


def recipe(trajectories: int, frames: int) -> NavierStokesRecipe:
    return NavierStokesRecipe(
        name="bench64", solve_resolution=64, store_resolution=64, viscosity=(1e-3, 1e-2),
        dt=0.02, t_end=0.1 * (frames - 1), store_interval=0.1, store_velocity=True,
        splits=Splits(train=trajectories), chunk_size=trajectories,
    )


def time_direct(windows: TrajectoryWindows, batches: int, repeats: int) -> list[float]:
    """Seconds per ``batches`` batches, reading each window with ``windows[i]`` and stacking."""
    order = np.random.default_rng(0).permutation(len(windows))
    position = 0

    def one_batch():
        nonlocal position
        rows = [windows[int(order[(position + k) % len(order)])] for k in range(BATCH)]
        position += BATCH
        return {key: np.stack([r[key] for r in rows]) for key in rows[0]}

    for _ in range(batches):
        one_batch()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batches):
            one_batch()
        times.append(time.perf_counter() - start)
    return times


def time_loader(windows, threads: int, prefetch: int, batches: int, repeats: int) -> list[float]:
    loader = ShardedBatches(windows, BATCH, seed=0, num_threads=threads, prefetch=prefetch)
    for _ in range(batches):
        jax.block_until_ready(next(loader))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batches):
            jax.block_until_ready(next(loader))
        times.append(time.perf_counter() - start)
    return times


def time_training(windows, threads: int, prefetch: int, batches: int, repeats: int):
    """Seconds per ``batches`` train steps: on one resident batch, and fed by the loader."""
    import optax
    from flax import nnx

    from neuralpde.data import Normalization
    from neuralpde.models import FNO
    from neuralpde.training.objectives import OneStep
    from neuralpde.training.step import TrainStep, initial_health

    channels = len(windows.channel_names)
    model = FNO(HISTORY * channels, channels, (12, 12), width=32, depth=4, n_conditioning=1,
                rngs=nnx.Rngs(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adamw(1e-3)
    step = TrainStep(graphdef, rest, tx, OneStep(), "mse", "state", seed=0)
    norm = Normalization.identity(windows.channel_names, windows.parameters)
    loader = ShardedBatches(windows, BATCH, seed=0, num_threads=threads, prefetch=prefetch)
    state = [params, tx.init(params), initial_health(BATCH)]
    fixed = next(loader)

    def run(feed) -> float:
        start = time.perf_counter()
        for i in range(batches):
            *state[:], metrics = step(*state, feed(), norm, np.int32(i), 1)
        jax.block_until_ready(metrics)
        return time.perf_counter() - start

    run(lambda: fixed)
    resident = [run(lambda: fixed) for _ in range(repeats)]
    fed = [run(lambda: next(loader)) for _ in range(repeats)]
    return resident, fed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trajectories", type=int, default=16)
    parser.add_argument("--frames", type=int, default=51)
    parser.add_argument("--threads", type=int, nargs="+", default=[0, 2, 4])
    parser.add_argument("--prefetch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        generate(recipe(args.trajectories, args.frames), root, progress=False)
        files = split_files(Path(root) / "bench64", "train")
        print(f"dataset: {args.trajectories} trajectories × {args.frames} frames × 64² × 3 "
              f"channels, {sum(f.stat().st_size for f in files) / 2**20:.0f} MiB, generated in "
              f"{time.perf_counter() - start:.1f} s")
        windows = TrajectoryWindows(files, HISTORY, FUTURE, parameters=["viscosity"])
        sample_mib = (HISTORY + FUTURE) * 64 * 64 * 3 * 4 / 2**20
        print(f"{len(windows)} windows of {HISTORY} in + {FUTURE} out ({sample_mib:.2f} MiB "
              f"each), batch {BATCH}, {jax.device_count()} {jax.devices()[0].platform} "
              f"device(s), {os.cpu_count()} CPUs; median of {args.repeats} × {args.batches} "
              "batches after warm-up\n")
        rows = [("windows[i] loop (reference)", "-", time_direct(windows, args.batches,
                                                                 args.repeats))]
        for threads in args.threads:
            rows.append(("ShardedBatches (grain)", str(threads),
                         time_loader(windows, threads, args.prefetch, args.batches,
                                     args.repeats)))
        resident, fed = time_training(windows, max(args.threads), args.prefetch, args.batches,
                                      args.repeats)
        rows.append(("train step, resident batch", "-", resident))
        rows.append(("train step fed by the loader", str(max(args.threads)), fed))
        reference = None
        print(f"{'reader':<30}{'threads':>8}{'samples/s':>12}{'ms/batch':>10}{'ratio':>8}")
        for name, threads, times in rows:
            seconds = statistics.median(times)
            rate = args.batches * BATCH / seconds
            reference = reference or rate
            print(f"{name:<30}{threads:>8}{rate:>12.0f}{1e3 * seconds / args.batches:>10.2f}"
                  f"{rate / reference:>8.2f}")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\nload average (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")
        windows.close()


if __name__ == "__main__":
    main()
