"""FactorizedAttention against a dense Kronecker-kernel oracle; rotary encoding; equivariance."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from neuralpde.models import FactorizedAttention
from neuralpde.models.factorized_attention import apply_rotary, rotary_wavenumbers

apply = nnx.jit(lambda layer, u: layer(u))


def attention(spatial_dims, **changes) -> FactorizedAttention:
    options = dict(heads=2, dim_head=4, kernel_multiplier=2, dtype=jnp.float64, rngs=nnx.Rngs(0))
    return FactorizedAttention(16, spatial_dims, **(options | changes))


def field(space, seed=0) -> jnp.ndarray:
    return jnp.asarray(np.random.default_rng(seed).normal(size=(2, *space, 16)))


def dense_operators(kernels, parallel: bool) -> list[jnp.ndarray]:
    """Dense ``(batch, heads, N, N)`` operators on the flattened grid (C order, x slowest).

    Chained: the one operator ``K_1 ⊗ K_2 ⊗ …``. Parallel: ``I ⊗ … ⊗ K_a ⊗ … ⊗ I`` per axis.
    """
    kron = jax.vmap(jax.vmap(lambda *factors: functools.reduce(jnp.kron, factors)))
    if not parallel:
        return [kron(*kernels)]
    eye = [jnp.broadcast_to(jnp.eye(k.shape[-1]), k.shape) for k in kernels]
    return [
        kron(*[k if b == a else eye[b] for b in range(len(eye))]) for a, k in enumerate(kernels)
    ]


@nnx.jit
def factorized_and_dense(layer, u):
    """Contraction and output of ``layer`` at ``u``, factorized and through dense kernels."""
    h = layer.in_norm(u)
    kernels, v = layer.axial_kernels(h), layer.values(h)
    batch, *space, heads, c = v.shape
    flat = v.reshape(batch, -1, heads, c)
    operators = dense_operators(kernels, layer.parallel)
    dense = jnp.stack([jnp.einsum("bhPQ,bQhc->bPhc", op, flat) for op in operators], axis=-2)
    dense = dense.reshape(batch, *space, -1)
    return layer.contract(kernels, v), dense, layer(u), layer.output(dense)


@pytest.mark.parametrize(
    ("space", "parallel"), [((12,), False), ((6, 10), False), ((6, 10), True), ((4, 5, 6), False)]
)
def test_factorized_contraction_matches_dense_kernel(space, parallel):
    """One matmul with the materialised (N × N) kernel equals the axis-by-axis einsums."""
    factorized, dense, out, dense_out = factorized_and_dense(
        attention(len(space), parallel=parallel), field(space)
    )
    scale = float(jnp.max(jnp.abs(dense)))
    np.testing.assert_allclose(factorized, dense, rtol=1e-12, atol=1e-14 * scale)
    np.testing.assert_allclose(out, dense_out, rtol=1e-10, atol=1e-13)


def test_rotary_kernel_depends_on_the_offset_only():
    """``RoPE(q)_i · RoPE(k)_j = q_iᵀ R((j − i) 2πκ/n) k_j``, summed over pairs by 2×2 loops."""
    rng = np.random.default_rng(1)
    n, width = 10, 8
    q, k = rng.normal(size=(2, 1, n, 1, width))
    kappa = rotary_wavenumbers(width, "periodic")
    angles = 2 * np.pi * np.arange(n)[:, None] / n * kappa
    fast = np.einsum("bihc,bjhc->bij", apply_rotary(q, angles), apply_rotary(k, angles))[0]
    naive = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            for m in range(width // 2):
                t = angles[j, m] - angles[i, m]
                rotation = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
                pair_q = q[0, i, 0, [m, m + width // 2]]
                pair_k = k[0, j, 0, [m, m + width // 2]]
                naive[i, j] += pair_q @ rotation @ pair_k
    np.testing.assert_allclose(fast, naive, rtol=1e-12, atol=1e-12)


def test_rotary_wavenumbers():
    reference = rotary_wavenumbers(128, "reference")
    assert reference.shape == (64,) and reference[0] == 64 and reference[-1] < 0.01
    periodic = rotary_wavenumbers(128, "periodic")
    assert np.all(periodic == np.round(reference)) and periodic[0] == 64
    with pytest.raises(ValueError, match="rotary"):
        rotary_wavenumbers(7, "periodic")


@pytest.mark.parametrize("parallel", [False, True])
def test_translation_equivariance_with_periodic_rotary(parallel):
    layer = attention(2, parallel=parallel)
    u = field((6, 10), seed=2)
    shift = (3, 5)
    shifted = factorized_and_dense(layer, jnp.roll(u, shift, axis=(1, 2)))[2]
    expected = jnp.roll(factorized_and_dense(layer, u)[2], shift, axis=(1, 2))
    assert float(jnp.max(jnp.abs(shifted - expected)) / jnp.max(jnp.abs(expected))) < 1e-10


def test_reference_rotary_is_not_periodic():
    """Non-integer wavenumbers make the kernel non-circulant: a circular shift is no symmetry."""
    layer = attention(1, rotary="reference")
    u = field((12,), seed=3)
    shifted = apply(layer, jnp.roll(u, 5, axis=1))
    expected = jnp.roll(apply(layer, u), 5, axis=1)
    assert float(jnp.max(jnp.abs(shifted - expected)) / jnp.max(jnp.abs(expected))) > 1e-3


def test_wrong_rank_raises():
    with pytest.raises(ValueError, match=r"over 2 axes expects .* got shape \(2, 12, 16\)"):
        attention(2)(field((12,)))
