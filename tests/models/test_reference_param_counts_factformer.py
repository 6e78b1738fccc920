"""Parameter counts of FactFormer and IFactFormer-m against their reference implementations.

Neither paper's text available to us states a count, so the expected numbers are those of the
reference PyTorch code, summed layer by layer below (weights + biases; the fixed random Fourier
bases have ``requires_grad=False`` and are not counted there or here).
"""

import dataclasses

import jax
from flax import nnx

from neuralpde.models import FactFormer, FactorizedAttention
from neuralpde.models.factformer import reference_configs


def linear(n_in, n_out, bias=True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def count(model) -> int:
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def fablock(dim, heads, dim_head, kernel_multiplier, axes, parallel=False) -> int:
    """``FABlock2D`` (chained) or ``FABlock2D_m`` (parallel) of the reference, latent = dim."""
    width = dim_head * kernel_multiplier
    reducer = linear(dim, dim, False) + 2 * dim + linear(dim, 2 * dim) + linear(dim, dim)
    kernel = 2 * linear(dim, heads * width, False)  # to_q, to_k
    mixed = heads * dim_head * (axes if parallel else 1)
    return (
        2 * dim  # in_norm
        + linear(dim, heads * dim_head, False)  # to_v
        + linear(dim, dim, False)  # to_in
        + axes * (reducer + kernel)
        + linear(mixed, dim, False)  # to_out, after a parameter-free InstanceNorm
        + linear(dim, dim, False)
    )


# BaratiLab/FactFormer, examples/turb_ns2d_fact_lm.py with configs/ns2d_fact_lm.yml:
# dim 128, depth 4, heads 8, dim_head 64, kernel_multiplier 2, latent 256, 10 frames in.
KOLMOGOROV_BLOCK = fablock(128, 8, 64, 2, axes=2)
KOLMOGOROV_2D = (
    linear(10, 128)  # to_in
    + 4 * (linear(128, 128) + KOLMOGOROV_BLOCK)  # per layer: Fourier-feature Linear + FABlock2D
    + linear(128, 256, False)  # expand_latent
    + 4 * 256  # latent_time_emb, max_latent_steps = 4
    + 2 * 256
    + linear(256, 128)
    + linear(128, 256)  # propagator
    + 2 * 256
    + 128 * 256 // 8
    + linear(128, 64, False)
    + linear(64, 1)  # GroupNorm, convs
)


def test_factformer_kolmogorov_2d_matches_the_reference_code():
    assert KOLMOGOROV_BLOCK == 820_736 and KOLMOGOROV_2D == 3_463_489
    config = reference_configs()["kolmogorov2d"]
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    del fields["kind"]
    model = nnx.eval_shape(lambda: FactFormer(**fields, rngs=nnx.Rngs(0)))
    assert count(model.blocks[0]) == KOLMOGOROV_BLOCK
    # One output step: the step embedding becomes the expand bias (256 instead of 4 × 256).
    assert count(model) == KOLMOGOROV_2D - 3 * 256
    assert abs(count(model) / KOLMOGOROV_2D - 1) < 0.05


def test_ifactformer_m_block_matches_the_reference_code():
    """EntropyXi/IFactFormer-m ``FABlock2D_m`` at its config: dim 96, 5 heads of 96, ×3 kernel."""
    expected = fablock(96, 5, 96, 3, axes=2, parallel=True)
    assert expected == 784_512
    block = nnx.eval_shape(
        lambda: FactorizedAttention(
            96, 2, heads=5, dim_head=96, kernel_multiplier=3, parallel=True, rngs=nnx.Rngs(0)
        )
    )
    assert count(block) == expected
