"""Training-step samples per second of our U-Net and SineNet against PyTorch ports, on CPU.

One training step is forward, MSE loss, backward, global-norm clipping and AdamW, on a batch of
16 windows of 10 frames in and 1 out at 64², time folded into channels (10 in, 1 out), with
circular padding throughout. The models (``MODELS``):

* ``unet``: PDEArena's modern U-Net, ``UNet(10, 1, hidden_channels=16,
  channel_multipliers=(1, 2, 2, 2), blocks_per_level=2)``, 2,912,705 parameters;
* ``sinenet``: ``SineNet(10, 1, hidden_channels=16, waves=8, levels=4)`` (SineNet-8, narrower),
  2,188,801 parameters.

Ours is trained by the real :class:`neuralpde.training.TrainStep` (``OneStep``, ``mse`` on the
state, ``make_optimizer``'s clip + AdamW), the batch sharded over a ``data`` mesh of
``--devices`` XLA host devices, with XLA's Eigen convolutions and
:func:`neuralpde.training.reuse_host_memory`, as ``neuralpde train`` does (one device,
``EIGEN_CONV``). The peer of each is its PyTorch
port in ``_torch_convnets.py`` (same blocks, widths and parameter count; ``--check`` copies our
weights into it and compares the outputs), trained by PyTorch eager with ``clip_grad_norm_`` and
``torch.optim.AdamW``, with ``torch.set_num_threads`` from ``--threads``.

``--variants`` adds workers of ours with other XLA flags or formulations (``VARIANTS``), one
device each. Each configuration runs in its own worker process, so that its peak resident
memory is its own, and the parent times them **interleaved**: in every round each worker runs
``--steps`` steps in turn (the order rotates). Reported: the median over ``--repeats`` rounds
after a warm-up, the first step (trace + compile + run) apart, and the ratio to the model's
fastest PyTorch configuration of each round, with the load average of every round.

    .venv/bin/python benchmarks/conv_train_step.py              # both models, ~5 min
    .venv/bin/python benchmarks/conv_train_step.py --quick      # devices vs threads, 1 per core
    .venv/bin/python benchmarks/conv_train_step.py --models unet --devices 1 --threads 2 \\
        --variants ynn-conv previous --repeats 7
    .venv/bin/python benchmarks/conv_train_step.py --check      # ports compute our function
    taskset -c 0 .venv/bin/python benchmarks/conv_train_step.py --models unet --devices 1 \
        --threads 1 --batch 8      # half the batch on one core: what 2 devices could reach
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics

from _workers import JaxTraining, TorchTraining, Worker, interleave, load, sample_data, serve

BATCH, HISTORY, SIZE = 16, 10, 64

MODELS = {
    "unet": ("UNet", dict(hidden_channels=16, channel_multipliers=(1, 2, 2, 2),
                          blocks_per_level=2)),
    "sinenet": ("SineNet", dict(hidden_channels=16, waves=8, levels=4)),
}


# What ``neuralpde train`` selects on CPU (``neuralpde.cli``): XLA's Eigen convolutions.
EIGEN_CONV = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"


@dataclasses.dataclass(frozen=True)
class Variant:
    """A change to our configuration: ``XLA_FLAGS`` (default: ``neuralpde train``'s), the layers
    of before this benchmark (``previous``), the activation dtype or the device count."""

    about: str
    flags: str = EIGEN_CONV
    previous: bool = False
    nnx_group_norm: bool = False
    dtype: str = "float32"
    devices: int = 1
    reuse_host_memory: bool = True


VARIANTS = {
    "ynn-conv": Variant("YNNPACK's convolutions (XLA:CPU's default)", ""),
    "ynn-conv-2dev": Variant("the same on 2 host devices", "", devices=2),
    "previous": Variant("the previous layers: nnx.Conv and nnx.ConvTranspose with circular "
                        "padding, jax.nn.gelu, nnx.GroupNorm", previous=True),
    "nnx-group-norm": Variant("nnx.GroupNorm (two-pass variance) in place of ours",
                              nnx_group_norm=True),
    "previous-2dev": Variant("the previous layers on 2 host devices", previous=True,
                             devices=2),
    "previous-ynn-conv": Variant("the previous layers, YNNPACK's convolutions", "",
                                 previous=True),
    "onednn": Variant("oneDNN for matmuls and convolutions",
                      f"{EIGEN_CONV} --xla_cpu_use_onednn=true"),
    "ynn-all": Variant("YNNPACK for every fusion kind", "--xla_cpu_experimental_ynn_fusion_type="
                       "individual_convolution,individual_dot,dot,eltwise,reduce"),
    "eigen-1-thread": Variant("one thread", f"{EIGEN_CONV} "
                              "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"),
    "vector-512": Variant("512-bit vectors", f"{EIGEN_CONV} --xla_cpu_prefer_vector_width=512"),
    "bf16": Variant("bfloat16 activations (float32 parameters)", dtype="bfloat16"),
    "fresh-pages": Variant("without reuse_host_memory (JAX's defaults: temporaries on fresh "
                           "pages every step)", reuse_host_memory=False),
    "fresh-pages-2dev": Variant("the same on 2 host devices (neuralpde train before "
                                "reuse_host_memory)", reuse_host_memory=False, devices=2),
}


def nnx_group_norm(channels: int, groups: int, **kw):
    """``nnx.GroupNorm`` with the two-pass variance: the models' norm before
    ``neuralpde.models._group_norm``."""
    from flax import nnx

    return nnx.GroupNorm(channels, num_groups=groups, epsilon=1e-5, use_fast_variance=False, **kw)


def use_nnx_group_norm() -> None:
    """Build our models with ``nnx.GroupNorm`` (two-pass variance), as before
    ``neuralpde.models._group_norm``."""
    import neuralpde.models.sinenet as sinenet
    import neuralpde.models.unet as unet

    unet.group_norm = sinenet.group_norm = nnx_group_norm


def use_previous_layers() -> None:
    """Build our models with the layers they had before this benchmark (before building)."""
    import jax
    from flax import nnx

    import neuralpde.models.sinenet as sinenet
    import neuralpde.models.unet as unet

    use_nnx_group_norm()

    def conv(c_in, c_out, n_dims, kernel, padding, *, stride=1, **kw):
        pad = "VALID" if kernel == 1 else "CIRCULAR"
        return nnx.Conv(c_in, c_out, (kernel,) * n_dims, strides=stride, padding=pad, **kw)

    def upsample(channels, n_dims, padding, **kw):
        return nnx.ConvTranspose(channels, channels, (4,) * n_dims, 2, padding="CIRCULAR", **kw)

    for module in (unet, sinenet):
        module.conv = conv
        module.gelu = lambda h: jax.nn.gelu(h, approximate=False)
    unet.upsample = upsample


def build_ours(model: str, dtype: str = "float32"):
    from flax import nnx

    import neuralpde.models as models

    kind, sizes = MODELS[model]
    return getattr(models, kind)(HISTORY, 1, **sizes, dtype=dtype, rngs=nnx.Rngs(0))


def build_peer(model: str):
    import _torch_convnets

    kind, sizes = MODELS[model]
    return getattr(_torch_convnets, kind)(HISTORY, 1, *sizes.values())


def ours(model: str, devices: int, variant: str, batch: int = BATCH) -> JaxTraining:
    """Our model in configuration ``variant`` (``"default"``: ``devices`` host devices and
    ``neuralpde train``'s flags)."""
    spec = VARIANTS.get(variant, Variant("as is", devices=devices))
    flags = f"{os.environ.get('XLA_FLAGS', '')} {spec.flags}"
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={spec.devices}"
    if spec.reuse_host_memory:
        from neuralpde.training import reuse_host_memory

        reuse_host_memory()
    if spec.previous:
        use_previous_layers()
    if spec.nnx_group_norm:
        use_nnx_group_norm()
    name = (f"ours, {spec.devices} device{'s' * (spec.devices > 1)}" if variant == "default"
            else f"ours, {variant}")
    return JaxTraining(name, build_ours(model, spec.dtype), batch, HISTORY, SIZE)


def peer(model: str, threads: int, batch: int = BATCH) -> TorchTraining:
    """The PyTorch port on ``threads`` intra-op threads."""
    import torch
    from _torch_convnets import parameter_count

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    port = build_peer(model)
    return TorchTraining(f"PyTorch, {threads} thread{'s' * (threads > 1)}", port,
                         parameter_count(port), batch, HISTORY, SIZE)


def check(model: str) -> None:
    """Copy our initial weights into the port and compare one forward pass of both."""
    import jax
    import numpy as np
    import torch
    from _torch_convnets import load_from, parameter_count
    from flax import nnx

    ours, peer = build_ours(model), build_peer(model)
    load_from(peer, ours)
    window, _ = sample_data(BATCH, HISTORY, SIZE)
    theirs = peer(torch.from_numpy(window)).detach().numpy()
    mine = np.moveaxis(np.asarray(jax.jit(lambda u: ours(u))(np.moveaxis(window, 1, -1))), -1, 1)
    count = sum(p.size for p in jax.tree.leaves(nnx.state(ours, nnx.Param)))
    error = np.abs(mine - theirs).max() / np.abs(theirs).max()
    print(f"{model}: parameters ours {count:,}, PyTorch {parameter_count(peer):,}; "
          f"max |ours − PyTorch| / max |PyTorch| = {error:.1e} (same weights, one batch)")


def worker(args) -> None:
    """Build one configuration, then answer ``run N`` and ``quit`` on stdin with JSON lines."""
    if args.worker == "ours":
        runner = ours(args.worker_model, args.worker_devices, args.worker_variant, args.batch)
    else:
        runner = peer(args.worker_model, args.threads[0], args.batch)
    serve(runner, args.warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--devices", type=int, nargs="+", default=sorted({1, os.cpu_count()}),
                        help="our XLA host device counts, one worker each")
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, os.cpu_count()}),
                        help="torch intra-op thread counts, one peer worker each")
    parser.add_argument("--variants", nargs="*", default=[], choices=list(VARIANTS),
                        help="extra workers of ours: " + ", ".join(VARIANTS))
    parser.add_argument("--batch", type=int, default=BATCH,
                        help="samples per step (the comparison's is 16)")
    parser.add_argument("--steps", type=int, default=2, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=2, help="steps after the first")
    parser.add_argument("--quick", action="store_true",
                        help="one device per core against as many threads, 3 rounds")
    parser.add_argument("--check", action="store_true",
                        help="only compare parameter counts and outputs with the ports")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--worker", choices=["ours", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-model", help=argparse.SUPPRESS)
    parser.add_argument("--worker-devices", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--worker-variant", default="default", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.check:
        for model in args.models:
            check(model)
        return
    if args.quick:
        args.devices, args.threads, args.repeats = [max(args.devices)], [max(args.threads)], 3

    print(f"batch {args.batch} × {HISTORY} frames in, 1 out, {SIZE}²; {os.cpu_count()} CPUs; "
          f"load at start {load()}", flush=True)
    # One model at a time: the workers of both models together hold about the machine's 24 GiB.
    workers, times, loads, peaks = [], [], [], []
    for model in args.models:
        common = ["--worker-model", model, "--warmup", str(args.warmup), "--batch",
                  str(args.batch)]
        group = []
        for devices in args.devices:
            group.append(Worker(__file__, [*common, "--worker", "ours", "--worker-devices",
                                           str(devices)], model=model, kind="ours"))
        for variant in args.variants:
            group.append(Worker(__file__, [*common, "--worker", "ours", "--worker-variant",
                                           variant], model=model, kind="ours"))
        for threads in args.threads:
            group.append(Worker(__file__, [*common, "--worker", "peer", "--threads",
                                           str(threads)], model=model, kind="peer"))
        group_times, group_loads, group_peaks = interleave(group, args.repeats, args.steps)
        workers, times, peaks = workers + group, times + group_times, peaks + group_peaks
        loads += group_loads
    end_load = load()

    rows = []
    print("\n| model | configuration | parameters | samples/s | ms/step | ÷ best PyTorch | "
          "first step s | RSS before first step MiB | peak RSS MiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for w, t, peak in zip(workers, times, peaks, strict=True):
        # Each round's fastest PyTorch configuration of the same model: 2 threads win on an
        # idle machine, 1 thread when other processes hold the cores.
        peers = [times[i] for i, p in enumerate(workers) if p.model == w.model and
                 p.kind == "peer"]
        best = [min(p[r] for p in peers) for r in range(args.repeats)]
        ratio = statistics.median([b / o for o, b in zip(t, best, strict=True)])
        seconds = statistics.median(t)
        row = dict(model=w.model, name=w.info["name"], parameters=w.info["parameters"],
                   samples_per_s=args.batch / seconds, ms_per_step=1e3 * seconds,
                   ratio_to_best_peer=ratio, first_step_s=w.info["first_step_s"],
                   rss_before_first_step_mib=w.info["rss_built_mib"], peak_rss_mib=peak,
                   times_s=t)
        rows.append(row)
        print(f"| {w.model} | {row['name']} | {row['parameters']:,} | "
              f"{row['samples_per_s']:.1f} | {row['ms_per_step']:.0f} | {ratio:.2f} | "
              f"{row['first_step_s']:.1f} | {row['rss_before_first_step_mib']:.0f} | "
              f"{peak:.0f} |")
    print(f"\nmedian of {args.repeats} interleaved rounds of {args.steps} steps after "
          f"{1 + args.warmup} warm-up steps; ÷ best PyTorch = median over rounds of (time of "
          f"that round's fastest PyTorch configuration of the model / this time), > 1 is "
          f"faster. Load average (which counts this benchmark's own running worker): "
          f"{min(loads):.1f}–{max(loads):.1f} (1 min) during the rounds, {end_load} (1, 5, "
          f"15 min) at the end, on {os.cpu_count()} CPUs.")
    for name in args.variants:
        print(f"  {name}: {VARIANTS[name].about} {VARIANTS[name].flags}".rstrip())
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "load_1min_per_round": loads, "load_end": end_load,
                       "args": vars(args)}, f, indent=2)


if __name__ == "__main__":
    main()
