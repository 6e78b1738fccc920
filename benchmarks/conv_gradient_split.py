"""Where the U-Net's training step spends its time, by gradient: ours against PyTorch on CPU.

The whole U-Net of ``conv_train_step.py`` (2.9M parameters, batch 16, 10 frames in at 64²,
circular padding), timed in four phases:

* ``forward``: inference only (PyTorch under ``no_grad``);
* ``∂/∂input``: forward and backward of the MSE with respect to the input only, which computes
  every layer's input gradient and no weight gradient;
* ``∂/∂parameters``: the gradient a training step needs (every weight gradient, and every
  input gradient but the first layer's);
* ``both``: with respect to the input and the parameters.

``both − ∂/∂input`` is then what the weight gradients cost. Each row also gives the minor page
faults and the system CPU time per call (``getrusage``, both threads together): XLA:CPU
allocates its temporaries per call, and allocations above glibc's mmap threshold are fresh
pages that the kernel faults in and zeroes on first touch.

Ours: jitted, one XLA host device with Eigen's convolutions; with ``--reuse-host-memory``
also :func:`neuralpde.training.reuse_host_memory`, as ``neuralpde train`` does. PyTorch eager
on as many threads as cores. Medians over ``--repeats`` interleaved rounds of
``--calls`` calls after a warm-up; compile times apart. Ratio = PyTorch time / ours: > 1 means
ours is faster.

    .venv/bin/python benchmarks/conv_gradient_split.py        # ~2 min
    .venv/bin/python benchmarks/conv_gradient_split.py --reuse-host-memory
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

os.environ["XLA_FLAGS"] = (f"{os.environ.get('XLA_FLAGS', '')} "
                           "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution")

import jax
import jax.numpy as jnp
import numpy as np
import torch
from _report import machine_load, print_table
from _workers import sample_data
from conv_train_step import BATCH, HISTORY, SIZE, build_ours, build_peer
from flax import nnx

PHASES = ("forward", "∂/∂input", "∂/∂parameters", "both")


def ours_phases() -> tuple[dict, tuple]:
    """Jitted calls of each phase on our U-Net, and their arguments."""
    graph, params = nnx.split(build_ours("unet"))
    window, future = sample_data(BATCH, HISTORY, SIZE)
    x, y = jnp.asarray(np.moveaxis(window, 1, -1)), jnp.asarray(np.moveaxis(future, 1, -1))

    def loss(p, x, y):
        return jnp.mean((nnx.merge(graph, p)(x) - y) ** 2)

    calls = {"forward": jax.jit(lambda p, x, y: nnx.merge(graph, p)(x)),
             "∂/∂input": jax.jit(jax.grad(loss, argnums=1)),
             "∂/∂parameters": jax.jit(jax.grad(loss)),
             "both": jax.jit(jax.grad(loss, argnums=(0, 1)))}
    return calls, (params, x, y)


def peer_phases() -> dict:
    """The same phases on the PyTorch port, eager."""
    model = build_peer("unet")
    window, future = (torch.from_numpy(a) for a in sample_data(BATCH, HISTORY, SIZE))

    def gradient(of_parameters: bool, of_input: bool):
        def call():
            for p in model.parameters():
                p.requires_grad_(of_parameters)
                p.grad = None
            x = window.clone().requires_grad_(of_input)
            ((model(x) - future) ** 2).mean().backward()
        return call

    def forward():
        with torch.no_grad():
            model(window)

    return {"forward": forward, "∂/∂input": gradient(False, True),
            "∂/∂parameters": gradient(True, False), "both": gradient(True, True)}


def timed(call, calls: int) -> tuple[float, float, float]:
    """Seconds, minor page faults and system CPU seconds per call."""
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(calls):
        out = call()
    jax.block_until_ready(out)
    seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return (seconds / calls, (after.ru_minflt - before.ru_minflt) / calls,
            (after.ru_stime - before.ru_stime) / calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=3, help="calls per round")
    parser.add_argument("--reuse-host-memory", action="store_true",
                        help="as neuralpde train does (before JAX's first computation)")
    args = parser.parse_args()
    if args.reuse_host_memory:
        from neuralpde.training import reuse_host_memory

        reuse_host_memory()
    torch.set_num_threads(os.cpu_count())
    print(f"U-Net, batch {BATCH}, {HISTORY} frames in at {SIZE}²; JAX {jax.__version__} on "
          f"{jax.device_count()} device (reuse_host_memory: {args.reuse_host_memory}), "
          f"PyTorch {torch.__version__} on {torch.get_num_threads()} threads; {machine_load()}")
    mine, arguments = ours_phases()
    theirs = peer_phases()
    compile_s, runs = {}, {}
    for phase in PHASES:
        start = time.perf_counter()
        compiled = mine[phase].lower(*arguments).compile()
        compile_s[phase] = time.perf_counter() - start
        runs[phase] = (lambda c=compiled: c(*arguments), theirs[phase])
        for call in runs[phase]:
            call(), call()
    samples = {(phase, who): [] for phase in PHASES for who in (0, 1)}
    for _ in range(args.repeats):
        for phase in PHASES:
            for who, call in enumerate(runs[phase]):
                samples[phase, who].append(timed(call, args.calls))
    rows, medians = [], {}
    for phase in PHASES:
        ours, peer = ([statistics.median(s[i] for s in samples[phase, who]) for i in range(3)]
                      for who in (0, 1))
        ratio = statistics.median(p[0] / o[0] for o, p in
                                  zip(samples[phase, 0], samples[phase, 1], strict=True))
        medians[phase] = (ours[0], peer[0])
        rows.append([phase, f"{1e3 * ours[0]:.0f}", f"{1e3 * peer[0]:.0f}", f"{ratio:.2f}",
                     f"{ours[1]:.0f}", f"{peer[1]:.0f}", f"{1e3 * ours[2]:.0f}",
                     f"{1e3 * peer[2]:.0f}", f"{compile_s[phase]:.1f}"])
    weights = [1e3 * (medians["both"][who] - medians["∂/∂input"][who]) for who in (0, 1)]
    print_table(
        "Per call (median); ratio = PyTorch / ours, > 1: ours faster",
        ["phase", "ms ours", "ms PyTorch", "ratio", "page faults ours", "page faults PyTorch",
         "system ms ours", "system ms PyTorch", "compile s ours"], rows,
        [f"weight gradients (both − ∂/∂input): {weights[0]:.0f} ms ours, {weights[1]:.0f} ms "
         f"PyTorch", f"end: {machine_load()}"])


if __name__ == "__main__":
    main()
