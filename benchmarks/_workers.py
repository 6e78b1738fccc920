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
