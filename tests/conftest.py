"""Strict test environment: float64 available everywhere, so that accidental upcasts show."""

import os

from xla_flags import host_device_flags

# Four host devices for the sharding tests; set before JAX initialises its backends.
os.environ.setdefault("XLA_FLAGS", host_device_flags(4))
os.environ.setdefault("MPLBACKEND", "Agg")

import jax

jax.config.update("jax_enable_x64", True)
