"""IFactFormer-m: shared weights across iterations, the loop against a plain one, equivariance."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from neuralpde.config import ConfigError
from neuralpde.models import IFactFormer, IFactFormerConfig, model_config_from_dict

apply = nnx.jit(lambda model, u, c=None: model(u, c))


def ifactformer(spatial_dims=2, **changes) -> IFactFormer:
    options = dict(dim=16, heads=2, dim_head=4, kernel_multiplier=2, iterations=3)
    options |= dict(n_conditioning=2, use_grid=False, dtype=jnp.float64)
    return IFactFormer(1, 2, spatial_dims, **(options | changes), rngs=nnx.Rngs(0))


def relative(a, b) -> float:
    return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


def inputs(space, seed=0):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.normal(size=(2, *space, 1))), jnp.asarray(rng.normal(size=(2, 2)))


def count(model) -> int:
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def test_iterations_share_weights():
    counts = {L: count(nnx.eval_shape(lambda L=L: ifactformer(iterations=L))) for L in (1, 4, 10)}
    assert len(set(counts.values())) == 1, counts
    assert count(nnx.eval_shape(lambda: ifactformer(depth=2))) > counts[1]


@nnx.jit
def plain_loop(model, u, c):
    """The implicit depth written out: ``h ← h + FiLM(A(h)) / L`` by a Python loop."""
    gelu = lambda x: jax.nn.gelu(x, approximate=False)  # noqa: E731
    h = model.lifting(gelu(model.lift_hidden(u)))
    scale, shift = model.film(c)
    for _ in range(model.iterations):
        update = model.blocks[0](h)
        update = (1 + scale[0][:, None, None]) * update + shift[0][:, None, None]
        h = h + update / model.iterations
    return model.project_out(gelu(model.project_hidden(h)))


def test_fori_loop_matches_a_plain_loop_and_conditioning_matters():
    model = ifactformer()
    u, c = inputs((8, 12))
    out = apply(model, u, c)
    np.testing.assert_allclose(out, plain_loop(model, u, c), rtol=1e-12, atol=1e-14)
    assert relative(apply(model, u, c + 0.5), out) > 1e-3


def test_translation_equivariance_2d_and_3d():
    model = ifactformer()
    u, c = inputs((8, 12), seed=1)
    shifted = apply(model, jnp.roll(u, (2, 5), axis=(1, 2)), c)
    assert relative(shifted, jnp.roll(apply(model, u, c), (2, 5), axis=(1, 2))) < 1e-10
    model = ifactformer(3, n_conditioning=0, iterations=2)
    u, _ = inputs((4, 6, 5), seed=2)
    shifted = apply(model, jnp.roll(u, (1, 2, 3), axis=(1, 2, 3)))
    assert relative(shifted, jnp.roll(apply(model, u), (1, 2, 3), axis=(1, 2, 3))) < 1e-10


def test_bfloat16_activations_stay_close_and_return_float32():
    """The ``fori_loop`` carry stays bfloat16; the result is float32 and near float64's."""
    u, c = inputs((8, 12), seed=3)
    reference = apply(ifactformer(), u, c)
    low = apply(ifactformer(dtype=jnp.bfloat16), u.astype(jnp.float32), c.astype(jnp.float32))
    assert low.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(low)))
    l2_error = jnp.linalg.norm(low - reference) / jnp.linalg.norm(reference)
    assert 0 < l2_error < 0.05, l2_error


@pytest.mark.parametrize(
    ("changes", "needle"),
    [(dict(iterations=0), "iterations"), (dict(dim=15), "multiple of 2"), (dict(depth=0), "depth")],
)
def test_invalid_configs_raise(changes, needle):
    data = {"kind": "ifactformer_m", "in_channels": 1, "out_channels": 1, "spatial_dims": 3}
    with pytest.raises(ConfigError, match=needle):
        model_config_from_dict(data | changes)
    with pytest.raises(ValueError, match=needle):
        IFactFormer(1, 1, 3, **changes, rngs=nnx.Rngs(0))


def test_defaults_follow_the_reference_implementation():
    config = IFactFormerConfig(in_channels=3, out_channels=3, spatial_dims=3)
    assert (config.dim, config.heads, config.dim_head, config.kernel_multiplier) == (96, 5, 96, 3)
    assert (config.depth, config.iterations, config.use_grid) == (1, 10, True)
