"""``XLA_FLAGS`` for host devices, importable before JAX starts (no imports of its own)."""


def host_device_flags(count: int) -> str:
    """``count`` host devices. XLA:CPU aborts a collective that waits 40 s for a device; on two
    oversubscribed cores (xdist workers × host devices) that is reachable without any deadlock,
    so the tests allow 15 minutes."""
    return (f"--xla_force_host_platform_device_count={count} "
            "--xla_cpu_collective_call_terminate_timeout_seconds=900 "
            "--xla_cpu_collective_call_warn_stuck_timeout_seconds=300")
