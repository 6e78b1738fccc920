"""Online against offline training: samples per second with the generator in the loop.

Builds the model, optimiser and train step of two training configs that differ only in their
data source (default ``experiments/online_vs_offline/{offline,online}.yaml``) and feeds the same
jitted step (a) windows of the stored train split through grain, the files in the OS page cache,
and (b) windows of the on-device buffer that the generator refreshes
(:class:`neuralpde.data.OnlineBatches`). Each row is the median over ``--blocks`` blocks of
``--refreshes`` refresh periods (``refresh_every`` steps each, so every online block holds the
same number of generator calls), after one warm-up block; compile times are reported apart.
Like ``neuralpde train`` for an online config, it starts one XLA host device per core. The
generator's share is the median time of one refresh (the ``refresh_size`` trajectories, awaited
alone) over the online step time of its period.

    .venv/bin/python benchmarks/online_training.py   # needs the dataset the configs name
"""

# ruff: noqa: E402  (JAX is imported once the host devices are set)
from __future__ import annotations

import argparse
import statistics
import time

from neuralpde.cli import use_every_core

use_every_core()  # as `neuralpde train` does for an online run: the generator uses every core

import jax
from _report import fmt, machine_load, print_table
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from neuralpde.config import from_yaml
from neuralpde.data import (
    OnlineBatches,
    ShardedBatches,
    TrajectoryWindows,
    data_mesh,
    normalization_for,
    split_files,
)
from neuralpde.models.registry import build_model
from neuralpde.training import TrainConfig
from neuralpde.training.online_source import online_stream
from neuralpde.training.optimizer import make_optimizer
from neuralpde.training.step import TrainStep, initial_health

EXPERIMENT = "experiments/online_vs_offline"


def batches_and_normalization(config: TrainConfig, mesh):
    data, horizon = config.data, config.objective.max_steps
    if data.source == "online":
        valid = TrajectoryWindows(split_files(data.path, "valid"), history=data.history,
                                  parameters=data.parameters)
        batches = OnlineBatches(online_stream(data, valid, horizon), config.batch_size,
                                mesh=mesh, seed=config.seed)
        t0 = time.perf_counter()
        normalization = batches.warm_up_normalization(valid.channel_names, valid.parameters)
        print(f"  initial buffer of {data.buffer_size} trajectories (with the generator's "
              f"compilation): {time.perf_counter() - t0:.1f} s")
        return batches, normalization
    windows = TrajectoryWindows(split_files(data.path, "train"), history=data.history,
                                future=horizon, parameters=data.parameters, stride=data.stride)
    batches = ShardedBatches(windows, batch_size=config.batch_size, seed=config.seed, mesh=mesh,
                             num_threads=data.num_threads, prefetch=data.prefetch)
    return batches, normalization_for(windows.files, data.parameters)


def time_training(config: TrainConfig, steps_per_block: int, blocks: int, mesh):
    """``(seconds per block, compile seconds, batches)`` of the train step fed by the config's
    source."""
    replicated = NamedSharding(mesh, PartitionSpec())
    batches, normalization = batches_and_normalization(config, mesh)
    model = build_model(config.model, rngs=nnx.Rngs(params=config.seed))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = make_optimizer(config.optimizer, config.steps)
    state = jax.device_put((params, tx.init(params), initial_health(config.batch_size)),
                           replicated)
    normalization = jax.device_put(normalization, replicated)
    step_fn = TrainStep(graphdef, rest, tx, config.objective, config.loss, config.target,
                        config.seed, replicated)
    counter = 0

    def run(n):
        nonlocal state, counter
        for _ in range(n):
            step = jax.device_put(jax.numpy.int32(counter), replicated)
            *state, _ = step_fn(*state, next(batches), normalization, step, 1)
            counter += 1
        jax.block_until_ready(state)

    t0 = time.perf_counter()
    run(1)
    compile_seconds = time.perf_counter() - t0
    run(steps_per_block - 1)  # warm-up: the rest of the first block
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        run(steps_per_block)
        times.append(time.perf_counter() - t0)
    return times, compile_seconds, batches


def time_generator(batches: OnlineBatches, repeats: int) -> list[float]:
    """Seconds per refresh (one group generated into the buffer), awaited alone."""
    times = []
    for group in range(repeats):
        t0 = time.perf_counter()
        batches.put_group(group)
        jax.block_until_ready(batches._buffer)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", default=f"{EXPERIMENT}/offline.yaml")
    parser.add_argument("--online", default=f"{EXPERIMENT}/online.yaml")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--refreshes", type=int, default=4, help="refresh periods per block")
    args = parser.parse_args()
    offline = from_yaml(TrainConfig, args.offline)
    online = from_yaml(TrainConfig, args.online)
    if online.data.source != "online" or offline.data.source != "files":
        parser.error("--offline must read files and --online must be source: online")
    mesh = data_mesh()
    steps = args.refreshes * online.data.refresh_every
    print(f"# Online against offline training ({machine_load()}; {len(mesh.devices.flat)} "
          f"devices, batch {online.batch_size}, {steps} steps per block)")

    offline_times, offline_compile, _ = time_training(offline, steps, args.blocks, mesh)
    online_times, online_compile, batches = time_training(online, steps, args.blocks, mesh)
    generator = statistics.median(time_generator(batches, args.blocks))
    t_off, t_on = statistics.median(offline_times), statistics.median(online_times)
    batch = online.batch_size
    period = t_on / args.refreshes
    rows = [
        ["offline (cached file)", fmt(1e3 * t_off / steps), fmt(batch * steps / t_off), "1",
         fmt(offline_compile), "-"],
        ["online (generator in the loop)", fmt(1e3 * t_on / steps), fmt(batch * steps / t_on),
         fmt(t_off / t_on), fmt(online_compile), f"{100 * generator / period:.0f} %"],
    ]
    data = online.data
    print_table(
        "Training throughput", ["source", "ms/step", "samples/s", "vs offline",
                                "step compile s", "generator share"], rows,
        notes=[f"online: buffer {data.buffer_size}, {data.refresh_size} new trajectories "
               f"every {data.refresh_every} steps; one refresh takes {fmt(generator)} s "
               f"({fmt(generator / data.refresh_size)} s per trajectory)",
               f"{machine_load()}"],
    )


if __name__ == "__main__":
    main()
