"""Shortcuts that keep small-model tests fast on CPU: NumPy-drawn weights, unoptimised compiles.

For a small conv net, eager initialisation (one compiled sampler per weight shape) and XLA's
optimising backend each cost more than the test itself. Neither changes what the tests check:
the structure of the network, on generic weights.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def with_random_weights(build: Callable[[nnx.Rngs], nnx.Module], seed: int = 0) -> nnx.Module:
    """``build(rngs)`` traced abstractly, then filled with LeCun-scaled normal draws.

    Kernels get ``N(0, 1/fan_in)``, norm scales ``1 + N(0, 0.1²)`` and other vectors
    ``N(0, 0.1²)``; the same ``seed`` and shapes give the same values whatever the compute dtype.
    """
    graphdef, state = nnx.split(nnx.eval_shape(lambda: build(nnx.Rngs(0))))
    rng = np.random.default_rng(seed)

    def draw(path, leaf):
        noise = rng.normal(size=leaf.shape)
        if len(leaf.shape) > 1:
            values = noise / np.sqrt(np.prod(leaf.shape[:-1]))
        else:
            is_scale = any(getattr(key, "key", None) == "scale" for key in path)
            values = is_scale + 0.1 * noise
        return jnp.asarray(values, leaf.dtype)

    return nnx.merge(graphdef, jax.tree_util.tree_map_with_path(draw, state))


UNOPTIMISED = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


@jax.jit(static_argnums=0, compiler_options=UNOPTIMISED)
def _forward(graphdef, state, u, c):
    return nnx.merge(graphdef, state)(u, c)


def apply(model: nnx.Module, u: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
    """``model(u, c)`` compiled once per model structure and input shape, as a NumPy array."""
    graphdef, state = nnx.split(model)
    return np.asarray(_forward(graphdef, state, u, c))
