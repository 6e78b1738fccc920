# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Scaling: one device, several, many hosts
#
# The same training code runs on one device, on every device of a machine, and on a multi-host
# GPU cluster or TPU pod: the global batch is a `jax.Array` sharded over a `data` mesh, the
# parameters are replicated, and XLA inserts the gradient all-reduce. Here a CPU pretends to be
# several devices (`--xla_force_host_platform_device_count`), which must be set before JAX starts.

# %% tags=["parameters"]
OUT = "runs/notebook_04"
DEVICES = 4  # host devices to simulate on a CPU
TRAIN_STEPS = 40
BATCH_SIZE = 16  # the global batch the loader builds in section 1

# %%
import os

os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={DEVICES}")

from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

from neuralpde.data import ShardedBatches, TrajectoryWindows, data_mesh, split_files
from neuralpde.datagen import generate, load_recipe
from neuralpde.quickstart import quickstart_config
from neuralpde.training import train
from neuralpde.training.run_log import read_log

out = Path(OUT)
devices = jax.devices()
print(f"{len(devices)} devices: {devices}")

# %% [markdown]
# ## 1. How a batch is laid out
#
# `ShardedBatches` reads windows (4 input frames, the next frame as target) with grain threads
# and builds each global batch with `jax.make_array_from_process_local_data`: every device holds
# `BATCH_SIZE / n_devices` rows. On many hosts, each process reads only its own rows.

# %%
recipe = load_recipe("ns2d-tiny")
generate(recipe, out / "data", resume=True, progress=False)
train_files = split_files(out / "data" / recipe.name, "train")
windows = TrajectoryWindows(train_files, history=4)
mesh = data_mesh(devices)
batches = ShardedBatches(windows, BATCH_SIZE, mesh=mesh, num_threads=0)
batch = next(iter(batches))
for name, array in batch.items():
    print(f"{name:14s} {array.shape!s:22s} {array.sharding.spec}")
shards = batch["input"].addressable_shards
print("rows per device:", {str(s.device): s.data.shape[0] for s in shards})
jax.debug.visualize_array_sharding(batch["input"].reshape(BATCH_SIZE, -1)[:, :64])

# %% [markdown]
# ## 2. The same training on one device and on all of them
#
# `train(config, run_dir, devices=...)` takes the devices to shard over; nothing else changes.
# The losses agree to float32 round-off, because the global batch and its order are the same.

# %%
config = quickstart_config(out / "data" / recipe.name, n_channels=1, steps=TRAIN_STEPS)
print(f"global batch {config.batch_size}, {TRAIN_STEPS} steps")
runs = {}
for label, chosen in {"1 device": devices[:1], f"{len(devices)} devices": devices}.items():
    run_dir = out / label.replace(" ", "_")
    result = train(config, run_dir, resume=run_dir.exists(), progress=False, devices=chosen)
    runs[label] = (result, read_log(run_dir))
    print(f"{label:10s}: {result.steps} steps in {result.seconds:.1f} s, "
          f"final training loss {result.final_loss:.5g}")

figure, axis = plt.subplots(figsize=(5, 3.2))
for label, (_, log) in runs.items():
    steps = [r["step"] for r in log if "loss" in r]
    losses = [r["loss"] for r in log if "loss" in r]
    axis.semilogy(steps, losses, marker="o", label=label)
axis.set(xlabel="step", ylabel="training loss", title="same code, same losses")
axis.legend()
one, many = (np.asarray([r["loss"] for r in log if "loss" in r]) for _, log in runs.values())
print("largest relative difference of the logged losses:", float(np.max(np.abs(one / many - 1))))

# %% [markdown]
# On this CPU the simulated devices share two cores, so there is no speed-up to see; on GPUs or
# TPUs each device computes its rows of the batch in parallel.
#
# ## 3. Many hosts
#
# JAX's own multi-host runtime runs the same script once per host. Initialise it first; then
# `jax.devices()` lists every device of every host, the mesh spans them, and each process reads
# and generates only its share. A SLURM job on 4 nodes × 8 GPUs, for example:
#
# ```python
# # launch.py
# import jax
# jax.distributed.initialize()  # before anything touches a device
# from neuralpde.cli import main
# main(["train", "config.yaml", "--out", "runs/big"])
# ```
#
# ```bash
# srun --nodes=4 --ntasks-per-node=1 --gpus-per-node=8 python launch.py
# ```
#
# `jax.distributed.initialize()` reads the coordinator address, process count and process id
# from SLURM, Open MPI or a TPU pod's environment (or pass them explicitly). Generation works the
# same way: each process writes its own `<dataset>_<split>_p<process>.hdf5`. Only process 0
# writes logs and reports; checkpoints are written collectively by orbax.
