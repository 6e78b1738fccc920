"""reuse_host_memory: XLA:CPU's per-call temporaries stop being faulted in afresh every call."""

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)

# A jitted computation with one 64 MB temporary (x xᵀ, 4096² float32), called 5 times after a
# warm-up; prints the minor page faults per call. Settings apply per process, hence subprocesses.
PROBE = """
import os, resource, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
if sys.argv[1] == "reuse":
    from neuralpde.training.host_memory import reuse_host_memory
    assert reuse_host_memory()
import jax, jax.numpy as jnp
f = jax.jit(lambda x, w: (x @ x.T) @ w)
x, w = jnp.ones((4096, 64)), jnp.ones((4096, 8))
f(x, w).block_until_ready()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    f(x, w).block_until_ready()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def _faults_per_call(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True).stdout
    return float(out.split()[-1])


def test_temporaries_are_reused_instead_of_faulted_in_every_call():
    pages = 4096 * 4096 * 4 // 4096  # the temporary's 4 KiB pages
    fresh, reused = _faults_per_call("default"), _faults_per_call("reuse")
    assert fresh >= 0.9 * pages  # the premise: by default every call faults the temporary in
    assert reused <= 0.25 * pages, (fresh, reused)
