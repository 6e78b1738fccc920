"""Training-step samples per second of our FNO against neuraloperator's FNO (PyTorch), on CPU.

One training step is forward, MSE loss, backward, global-norm clipping and AdamW, on a batch of
16 windows of 10 frames in and 1 out at 64², time folded into channels (10 in, 1 out). Both
models are the FNO of Li et al. (2021) with the same sizes (default: width 32, 4 layers, 24 × 12
retained modes, grid channels, a linear lifting, projection through 4 · width; 2,368,289
parameters each):

* ours: :class:`neuralpde.models.FNO` trained by the real :class:`neuralpde.training.TrainStep`
  (``OneStep`` objective, ``mse`` on the state, ``make_optimizer``'s clip + AdamW), with the
  batch sharded over a ``data`` mesh of ``--devices`` XLA host devices, as ``neuralpde train``
  does;
* peer: ``neuralop.models.FNO`` (neuraloperator 2.0, channels-first) with
  ``lifting_channel_ratio=0``, ``projection_channel_ratio=4``, ``use_channel_mlp=False`` and
  ``n_modes=(2m, 2m − 1)`` (its last axis keeps ``n // 2 + 1``), trained by PyTorch eager with
  ``clip_grad_norm_`` and ``torch.optim.AdamW``, ``torch.set_num_threads(--threads)``.

Each configuration runs in its own worker process, so that its peak resident memory
(``ru_maxrss``) is its own, and the parent times them **interleaved**: in every round each worker
runs ``--steps`` steps in turn (the order rotates), so that a change in machine load hits all of
them alike. Reported: the median over ``--repeats`` rounds after a warm-up, the first step
(which includes XLA's compilation) apart, and the ratio to the peer as the median over rounds of
(that round's fastest peer configuration / ours), with the load average of every round.

    /tmp/benchvenv/bin/python benchmarks/fno_train_step.py            # needs the bench extra
    /tmp/benchvenv/bin/python benchmarks/fno_train_step.py --repeats 15
    taskset -c 0 /tmp/benchvenv/bin/python benchmarks/fno_train_step.py --devices 1 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

from _workers import JaxTraining, TorchTraining, Worker, interleave, load, serve

BATCH, HISTORY, SIZE = 16, 10, 64


def ours(modes: int, width: int, depth: int, devices: int) -> JaxTraining:
    """Our FNO on a ``data`` mesh of ``devices`` host devices, reusing host memory as
    ``neuralpde train`` does."""
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}"
    from flax import nnx

    from neuralpde.models import FNO
    from neuralpde.training import reuse_host_memory

    reuse_host_memory()  # before the model's initialisation, JAX's first computation
    model = FNO(HISTORY, 1, (modes, modes), width=width, depth=depth, rngs=nnx.Rngs(0))
    return JaxTraining(f"neuralpde FNO (JAX), {devices} device{'s' * (devices > 1)}", model,
                       BATCH, HISTORY, SIZE)


def peer(modes: int, width: int, depth: int, threads: int) -> TorchTraining:
    """neuraloperator's FNO of the same size, on ``threads`` intra-op threads."""
    import torch
    from neuralop.models import FNO

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = FNO(
        n_modes=(2 * modes, 2 * modes - 1), in_channels=HISTORY, out_channels=1,
        hidden_channels=width, n_layers=depth, lifting_channel_ratio=0,
        projection_channel_ratio=4, use_channel_mlp=False,
    )
    parameters = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    return TorchTraining(f"neuraloperator FNO (PyTorch), {threads} thread{'s' * (threads > 1)}",
                         model, parameters, BATCH, HISTORY, SIZE)


def worker(args) -> None:
    """Build one configuration, then answer ``run N`` and ``quit`` on stdin with JSON lines."""
    if args.worker == "ours":
        runner = ours(args.modes, args.width, args.depth, args.worker_devices)
    else:
        runner = peer(args.modes, args.width, args.depth, args.threads[0])
    serve(runner, args.warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", type=int, default=12, help="our modes per axis (m)")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--devices", type=int, nargs="+", default=sorted({1, os.cpu_count()}),
                        help="our XLA host device counts, one worker each")
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, os.cpu_count()}),
                        help="torch intra-op thread counts, one peer worker each")
    parser.add_argument("--steps", type=int, default=5, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=3, help="steps after the first")
    parser.add_argument("--no-peer", action="store_true", help="time ours only")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--worker", choices=["ours", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-devices", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    shared = ["--modes", str(args.modes), "--width", str(args.width), "--depth",
              str(args.depth), "--warmup", str(args.warmup)]
    print(f"batch {BATCH} × {HISTORY} frames in, 1 out, {SIZE}², modes {args.modes} "
          f"(kept {2 * args.modes} × {args.modes}), width {args.width}, depth {args.depth}; "
          f"{os.cpu_count()} CPUs; load at start {load()}", flush=True)
    workers = [Worker(__file__, [*shared, "--worker", "ours", "--worker-devices", str(d)])
               for d in args.devices]
    peers = []
    for threads in [] if args.no_peer else args.threads:
        try:
            peers.append(Worker(__file__, [*shared, "--worker", "peer", "--threads", str(threads)]))
        except RuntimeError as error:
            print(f"peer not run ({error}); install the bench extra")
            break
    workers += peers
    times, loads, peaks = interleave(workers, args.repeats, args.steps)
    end_load = load()
    # The fastest peer configuration of each round: 2 threads win on an idle machine, 1 thread
    # when other processes hold the cores (PyTorch's OpenMP threads then wait on each other).
    best_peer = [min(times[len(args.devices) + j][r] for j in range(len(peers)))
                 for r in range(args.repeats)] if peers else None

    rows = []
    print("\n| configuration | parameters | samples/s | ms/step | ÷ best peer | first step s | "
          "RSS before first step MiB | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for w, t, peak in zip(workers, times, peaks, strict=True):
        ratio = (statistics.median([p / o for o, p in zip(t, best_peer, strict=True)])
                 if best_peer else float("nan"))
        seconds = statistics.median(t)
        row = dict(name=w.info["name"], parameters=w.info["parameters"],
                   samples_per_s=BATCH / seconds, ms_per_step=1e3 * seconds,
                   ratio_to_best_peer=ratio, first_step_s=w.info["first_step_s"],
                   rss_before_first_step_mib=w.info["rss_built_mib"], peak_rss_mib=peak,
                   times_s=t)
        rows.append(row)
        print(f"| {row['name']} | {row['parameters']:,} | {row['samples_per_s']:.1f} | "
              f"{row['ms_per_step']:.0f} | {ratio:.2f} | {row['first_step_s']:.1f} | "
              f"{row['rss_before_first_step_mib']:.0f} | {peak:.0f} |")
    print(f"\nmedian of {args.repeats} interleaved rounds of {args.steps} steps after "
          f"{1 + args.warmup} warm-up steps; ÷ best peer = median over rounds of (time of that "
          f"round's fastest peer configuration / this time), > 1 is faster. Load average "
          f"(which counts this benchmark's own running worker): {min(loads):.1f}–"
          f"{max(loads):.1f} (1 min) during the rounds, {end_load} (1, 5, 15 min) at the end, "
          f"on {os.cpu_count()} CPUs.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "load_1min_per_round": loads, "load_end": end_load,
                       "args": vars(args)}, f, indent=2)


if __name__ == "__main__":
    main()
