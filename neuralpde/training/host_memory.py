"""Run XLA:CPU computations on reused heap memory instead of fresh pages every call.

XLA:CPU allocates a compiled computation's temporaries anew on every call, as one block (518 MB
for the U-Net training step of ``benchmarks/conv_train_step.py``). glibc serves blocks above its
mmap threshold (at most 32 MB) from fresh mappings and unmaps them when freed, so on every call
the kernel faults in and zeroes each page again: about 122,000 page faults and 0.23 s of system
CPU time per U-Net step (``benchmarks/conv_gradient_split.py``). Two settings keep the block in
glibc's heap, where the next call finds it:

* glibc: ``mallopt(M_MMAP_MAX, 0)`` (large blocks come from the heap) and
  ``mallopt(M_TRIM_THRESHOLD, 2³¹ − 1)`` (freed memory stays with the process);
* JAX: ``jax_cpu_enable_async_dispatch = False``, so that single-device computations run on the
  calling thread, whose allocations come from glibc's main heap. Blocks allocated on other
  threads come from per-thread arenas, capped at 64 MB, and are still mapped afresh.

Neither alone made the U-Net step faster; together they took it from 605 ms (two devices,
fresh pages) to 496 ms on one device, 1.15× PyTorch (``benchmarks/README.md``). The cost: the
process keeps its peak heap until it exits, and a single-device computation no longer overlaps
with the Python code that dispatched it. Computations over several devices and accelerator
backends are unaffected.
"""

from __future__ import annotations

import ctypes
import platform
import sys

# glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def reuse_host_memory() -> bool:
    """Keep XLA:CPU's temporaries in reused heap memory (see the module docstring).

    Call before JAX creates its CPU client, i.e. before the first computation. Returns whether
    glibc took the settings (``False`` off Linux with glibc, where only the dispatch setting
    applies).
    """
    import jax

    jax.config.update("jax_cpu_enable_async_dispatch", False)
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
