"""Layer by layer: where the U-Net's training step spends its time, ours against PyTorch on CPU.

The training step of ``conv_train_step.py`` is built from a few layers, each timed here at the
shapes the U-Net of that benchmark meets (batch 16, 64² input, ``hidden_channels=16``,
``channel_multipliers=(1, 2, 2, 2)``):

* ``conv``: a periodic 3×3 convolution, ours
  (:func:`neuralpde.models._periodic_conv.periodic_conv`, the layer ``UNet`` uses with circular
  padding, and its hand-written gradient) against
  ``torch.nn.Conv2d(padding_mode="circular")``;
* ``norm+gelu``: GroupNorm (8 groups) followed by the exact GELU, ours
  (:class:`neuralpde.models._group_norm.GroupNorm`, :func:`neuralpde.models._conv_layers.gelu`)
  against ``torch.nn.GroupNorm`` and ``torch.nn.GELU``; ``nnx norm+gelu`` is the same with
  ``nnx.GroupNorm`` (two-pass variance), which the models used before.

For each: the forward pass, and forward plus backward (the gradient of ``Σ w ⊙ layer(x)`` with
respect to the input and the parameters), in ms, median over ``--repeats`` interleaved rounds
(ours, then PyTorch) of ``--calls`` calls each after a warm-up, with XLA's Eigen convolutions
(``neuralpde train``'s setting) on one host device and PyTorch on as many threads as cores.
Compile times are reported apart. Ratio = PyTorch time / ours: > 1 means ours is faster.

    .venv/bin/python benchmarks/conv_layers.py             # ~2 min
    .venv/bin/python benchmarks/conv_layers.py --repeats 3 --calls 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ["XLA_FLAGS"] = (f"{os.environ.get('XLA_FLAGS', '')} "
                           "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution")

import jax
import jax.numpy as jnp
import numpy as np
import torch
from _report import machine_load, print_table
from conv_train_step import nnx_group_norm
from flax import nnx

from neuralpde.models._conv_layers import gelu, group_norm
from neuralpde.models._periodic_conv import periodic_conv

BATCH = 16
# (grid, input channels, output channels) of the U-Net's 3×3 convolutions and norms.
CONVS = [(64, 16, 16), (64, 32, 16), (32, 32, 32), (32, 64, 32), (16, 64, 64), (16, 128, 64),
         (8, 128, 128)]
NORMS = [(64, 16), (64, 32), (32, 32), (32, 64), (16, 64), (16, 128), (8, 128)]


def _jax_pair(layer, parameters, x):
    """Jitted forward and forward + backward of ``Σ w ⊙ layer(parameters, x)``."""
    weight = jax.random.normal(jax.random.key(2), jax.eval_shape(layer, parameters, x).shape)
    forward = jax.jit(layer)
    backward = jax.jit(jax.grad(lambda p, x: jnp.sum(weight * layer(p, x)), argnums=(0, 1)))
    return forward, backward


def _torch_pair(module, x):
    weight = torch.randn_like(module(x))
    x = x.requires_grad_(True)

    def forward():
        with torch.no_grad():
            return module(x)

    def backward():
        module.zero_grad(set_to_none=True)
        x.grad = None
        (weight * module(x)).sum().backward()

    return forward, backward


def _time(call, calls: int, sync) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        out = call()
    sync(out)
    return (time.perf_counter() - start) / calls


def measure(ours, peer, args, jax_args) -> dict:
    """Interleaved medians (ms) of ours and the peer, forward and forward + backward."""
    result = {}
    for kind, mine, theirs in [("forward", ours[0], peer[0]), ("backward", ours[1], peer[1])]:
        start = time.perf_counter()
        compiled = mine.lower(*jax_args).compile()
        result[f"{kind}_compile_s"] = time.perf_counter() - start
        jax.block_until_ready(compiled(*jax_args))
        theirs()
        samples_mine, samples_theirs = [], []
        for _ in range(args.repeats):
            samples_mine.append(_time(lambda c=compiled: c(*jax_args), args.calls,
                                      jax.block_until_ready))
            samples_theirs.append(_time(theirs, args.calls, lambda _: None))
        result[kind] = (1e3 * statistics.median(samples_mine),
                        1e3 * statistics.median(samples_theirs),
                        statistics.median([t / m for m, t in
                                           zip(samples_mine, samples_theirs, strict=True)]))
    return result


def conv_layer(n: int, c_in: int, c_out: int, args) -> dict:
    x = np.random.default_rng(0).normal(size=(BATCH, n, n, c_in)).astype(np.float32)
    peer = torch.nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="circular", bias=False)
    kernel = jnp.asarray(peer.weight.detach().numpy().transpose(2, 3, 1, 0))
    ours = _jax_pair(lambda w, x: periodic_conv(x, w, 1), kernel, jnp.asarray(x))
    theirs = _torch_pair(peer, torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    return measure(ours, theirs, args, (kernel, jnp.asarray(x)))


def norm_layer(n: int, channels: int, args, make=None) -> dict:
    """``make`` builds the norm (default: the models' :func:`group_norm`)."""
    x = np.random.default_rng(0).normal(size=(BATCH, n, n, channels)).astype(np.float32)
    graph, state = nnx.split((make or group_norm)(channels, 8, rngs=nnx.Rngs(0)))
    ours = _jax_pair(lambda s, x: gelu(nnx.merge(graph, s)(x)), state, jnp.asarray(x))
    peer = torch.nn.Sequential(torch.nn.GroupNorm(8, channels), torch.nn.GELU())
    theirs = _torch_pair(peer, torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    return measure(ours, theirs, args, (state, jnp.asarray(x)))


def nnx_norm_layer(n: int, channels: int, args) -> dict:
    """The same with ``nnx.GroupNorm`` itself (two-pass variance), what the models used before."""
    return norm_layer(n, channels, args, nnx_group_norm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=10, help="calls per round")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count())
    print(f"batch {BATCH}; JAX {jax.__version__} on {jax.device_count()} device, PyTorch "
          f"{torch.__version__} on {torch.get_num_threads()} threads; {machine_load()}")
    rows, totals = [], {"forward": [0.0, 0.0], "backward": [0.0, 0.0]}
    layers = ([(f"conv {n}² {a}→{b}", conv_layer, (n, a, b)) for n, a, b in CONVS]
              + [(f"norm+gelu {n}² {c}", norm_layer, (n, c)) for n, c in NORMS]
              + [(f"nnx norm+gelu {n}² {c}", nnx_norm_layer, (n, c)) for n, c in NORMS])
    for name, build, sizes in layers:
        r = build(*sizes, args)
        rows.append([name, *(f"{v:.2f}" for v in r["forward"]), *(f"{v:.2f}" for v in
                     r["backward"]), f"{r['forward_compile_s']:.2f}/{r['backward_compile_s']:.2f}"])
        if not name.startswith("nnx"):  # the sums compare the models' layers
            for kind, total in totals.items():
                total[0], total[1] = total[0] + r[kind][0], total[1] + r[kind][1]
    print_table(
        "Per layer (ms, median); ratio = PyTorch / ours, > 1: ours faster",
        ["layer", "fwd ours", "fwd PyTorch", "ratio", "fwd+bwd ours", "fwd+bwd PyTorch",
         "ratio", "compile s (fwd/bwd)"], rows,
        [f"sums over the conv and norm+gelu rows: forward {totals['forward'][0]:.1f} ms ours, "
         f"{totals['forward'][1]:.1f} PyTorch; forward + backward {totals['backward'][0]:.1f} "
         f"ours, {totals['backward'][1]:.1f} PyTorch", f"end: {machine_load()}"])


if __name__ == "__main__":
    main()
