"""Training-step benchmarks timed interleaved in worker processes (one configuration each).

A worker builds one configuration (an object with ``name``, ``parameters`` and
``run(steps) -> seconds``), runs its first step and a warm-up, then answers ``run N`` and
``quit`` on stdin with JSON lines (:func:`serve`). The parent (:class:`Worker`,
:func:`interleave`) times all workers round by round in rotating order, so that a change in
machine load falls on every configuration alike, and each worker's peak resident memory is its
own.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux ``/proc``)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(runner, warmup: int) -> None:
    """Run ``runner``'s first step and ``warmup`` more, report them, then answer the parent."""
    built = rss_mib()  # the framework, the model, the optimiser state and the batch
    first = runner.run(1)
    runner.run(warmup)
    print(json.dumps({"name": runner.name, "parameters": runner.parameters,
                      "first_step_s": first, "rss_built_mib": built}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[0] == "run":
            print(json.dumps({"seconds": runner.run(int(command[1]))}), flush=True)
        else:
            print(json.dumps({"peak_rss_mib": peak_rss_mib()}), flush=True)
            return


class Worker:
    """``script argv`` in a child process, speaking :func:`serve`'s protocol."""

    def __init__(self, script: str, argv: list[str], **labels):
        self.__dict__.update(labels)
        self.process = subprocess.Popen(
            [sys.executable, script, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True,
        )
        self.info = self.receive()

    def receive(self) -> dict:
        while line := self.process.stdout.readline():
            if line.startswith("{"):  # anything else is a library's chatter
                return json.loads(line)
        raise RuntimeError(f"worker {self.process.args[2:]} exited with {self.process.wait()}")

    def ask(self, command: str) -> dict:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.receive()


def interleave(workers: list[Worker], repeats: int, steps: int
               ) -> tuple[list[list[float]], list[float], list[float]]:
    """Seconds per step of every worker in every round, the 1-minute load after each round,
    and every worker's peak RSS (MiB); the workers are told to quit."""
    times, loads = [[] for _ in workers], []
    for round_ in range(repeats):
        for k in range(len(workers)):
            index = (round_ + k) % len(workers)
            times[index].append(workers[index].ask(f"run {steps}")["seconds"] / steps)
        loads.append(os.getloadavg()[0])
    peaks = [w.ask("quit")["peak_rss_mib"] for w in workers]
    return times, loads, peaks


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def sample_data(batch: int, history: int, size: int, seed: int = 0):
    """The batch both frameworks train on: ``(batch, history, size, size)`` in and
    ``(batch, 1, size, size)`` out, standard normal, channels first."""
    import numpy as np

    rng = np.random.default_rng(seed)
    window = rng.normal(size=(batch, history, size, size)).astype(np.float32)
    future = rng.normal(size=(batch, 1, size, size)).astype(np.float32)
    return window, future


class JaxTraining:
    """Our model trained by the real :class:`neuralpde.training.TrainStep` (``OneStep``, ``mse``
    on the state, ``make_optimizer``'s clip + AdamW) on one fixed batch, parameters replicated
    and the batch sharded over a ``data`` mesh of every JAX device, as ``neuralpde train`` does.
    Import after ``XLA_FLAGS`` is set: the device count is fixed when JAX starts."""

    def __init__(self, name: str, model, batch: int, history: int, size: int):
        import jax
        import jax.numpy as jnp
        from flax import nnx
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P

        from neuralpde.data import Normalization, data_mesh
        from neuralpde.training.objectives import OneStep
        from neuralpde.training.optimizer import OptimizerConfig, make_optimizer
        from neuralpde.training.step import TrainStep, initial_health

        self.name, self.jax, self.jnp = name, jax, jnp
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        self.parameters = sum(p.size for p in jax.tree.leaves(params))
        mesh = data_mesh()
        replicated, sharded = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
        tx = make_optimizer(OptimizerConfig(), total_steps=100_000)
        self.state = jax.device_put([params, tx.init(params), initial_health(batch)], replicated)
        window, future = sample_data(batch, history, size)
        self.batch = jax.device_put(
            {"input": window[..., None], "target": future[..., None],
             "trajectory": jnp.arange(batch)},
            sharded,
        )
        self.normalization = jax.device_put(Normalization.identity(["u"]), replicated)
        self.train_step = TrainStep(graphdef, rest, tx, OneStep(), "mse", "state", seed=0,
                                    replicated=replicated)
        self.step = 0

    def run(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            *self.state, _metrics = self.train_step(
                *self.state, self.batch, self.normalization, self.jnp.asarray(self.step), 1
            )
            self.step += 1
        self.jax.block_until_ready(self.state)
        return time.perf_counter() - start


class TorchTraining:
    """A PyTorch model trained eagerly on the same batch: MSE, ``clip_grad_norm_(1.0)`` and
    ``torch.optim.AdamW`` (lr 1e-3, weight decay 1e-4). Build the model after
    ``torch.set_num_threads`` and ``torch.manual_seed``."""

    def __init__(self, name: str, model, parameters: int, batch: int, history: int, size: int):
        import torch

        self.name, self.torch, self.model, self.parameters = name, torch, model, parameters
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-4
        )
        window, future = sample_data(batch, history, size)
        self.window, self.future = torch.from_numpy(window), torch.from_numpy(future)

    def run(self, steps: int) -> float:
        torch = self.torch
        start = time.perf_counter()
        for _ in range(steps):
            self.optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(self.model(self.window), self.future)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
        return time.perf_counter() - start
