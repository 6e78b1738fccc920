"""reuse_host_memory: large host blocks are reused instead of faulted in afresh every time."""

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)

# Allocate, fill and free a 64 MiB block 5 times after a first time, as XLA:CPU does with a
# step's temporaries, and print the minor page faults per time. Settings apply per process,
# hence subprocesses.
PROBE = """
import ctypes, resource, sys
if sys.argv[1] == "reuse":
    from neuralpde.training.host_memory import reuse_host_memory
    assert reuse_host_memory()
    import jax
    assert not jax.config.read("jax_cpu_enable_async_dispatch")  # steps run inline
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
size = 64 << 20
def use_block():
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
use_block()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    use_block()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def _faults_per_block(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True).stdout
    return float(out.split()[-1])


def test_large_blocks_are_reused_instead_of_faulted_in_every_time():
    pages = (64 << 20) // 4096
    fresh, reused = _faults_per_block("default"), _faults_per_block("reuse")
    assert fresh >= 0.9 * pages  # the premise: by default every block is mapped afresh
    assert reused <= 0.01 * pages, (fresh, reused)
