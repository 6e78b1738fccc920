"""FactFormer: translation equivariance, resolutions, conditioning, dtypes, shapes and configs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from neuralpde.config import ConfigError
from neuralpde.models import FactFormer, FactFormerConfig, model_config_from_dict
from neuralpde.models.factformer import reference_configs

apply = nnx.jit(lambda model, u, c=None: model(u, c))


def factformer(spatial_dims=2, **changes) -> FactFormer:
    options = dict(dim=16, depth=2, heads=2, dim_head=4, use_grid=False, dtype=jnp.float64)
    return FactFormer(1, 2, spatial_dims, **(options | changes), rngs=nnx.Rngs(0))


def relative(a, b) -> float:
    return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


def test_translation_equivariance_2d_with_conditioning():
    """Relative (periodic rotary) positions and domain-wide norms: shifts commute with the model."""
    model = factformer(n_conditioning=2)
    rng = np.random.default_rng(0)
    u, c = jnp.asarray(rng.normal(size=(2, 8, 12, 1))), jnp.asarray(rng.normal(size=(2, 2)))
    shifted = apply(model, jnp.roll(u, (3, 7), axis=(1, 2)), c)
    assert relative(shifted, jnp.roll(apply(model, u, c), (3, 7), axis=(1, 2))) < 1e-10


def test_conditioning_changes_the_output():
    """Other resolutions are in the registry's contract suite (TINY); here the parameters."""
    model = factformer(n_conditioning=2)
    rng = np.random.default_rng(2)
    u, c = jnp.asarray(rng.normal(size=(2, 8, 12, 1))), jnp.asarray(rng.normal(size=(2, 2)))
    out = apply(model, u, c)
    assert out.shape == (2, 8, 12, 2) and bool(jnp.all(jnp.isfinite(out)))
    assert relative(apply(model, u, c + 0.5), out) > 1e-3
    with pytest.raises(ValueError, match=r"n_conditioning=2 and needs conditioning .*got None"):
        model(u)
    with pytest.raises(ValueError, match="n_conditioning=0 but received conditioning"):
        factformer()(u, c)


def test_grid_encoding_breaks_equivariance_in_1d():
    """The reference's absolute Fourier-feature encoding (``use_grid``) pins the position."""
    model = factformer(1, use_grid=True)
    u = jnp.asarray(np.random.default_rng(1).normal(size=(3, 16, 1)))
    assert apply(model, u).shape == (3, 16, 2)
    assert (
        relative(apply(model, jnp.roll(u, 5, axis=1)), jnp.roll(apply(model, u), 5, axis=1)) > 1e-3
    )


@pytest.mark.parametrize(
    ("shape", "needle"), [((2, 8, 8, 3), "got (2, 8, 8, 3)"), ((2, 8, 1), "got (2, 8, 1)")]
)
def test_wrong_input_shapes_raise(shape, needle):
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, ≥2, ≥2, 1\)") as info:
        factformer()(jnp.zeros(shape))
    assert needle in str(info.value)


def test_bfloat16_activations_stay_close_and_return_float32():
    rng = np.random.default_rng(3)
    u, c = jnp.asarray(rng.normal(size=(2, 8, 12, 1))), jnp.asarray(rng.normal(size=(2, 2)))
    reference = apply(factformer(n_conditioning=2), u, c)
    low_model = factformer(n_conditioning=2, dtype=jnp.bfloat16)
    low = apply(low_model, u.astype(jnp.float32), c.astype(jnp.float32))
    assert low.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(low)))
    params = jax.tree.leaves(nnx.state(low_model, nnx.Param))
    assert {p.dtype for p in params} == {jnp.dtype(jnp.float32)}
    l2_error = jnp.linalg.norm(low - reference) / jnp.linalg.norm(reference)
    assert 0 < l2_error < 0.05, l2_error


def test_reference_config_is_kolmogorov_2d():
    config = reference_configs()["kolmogorov2d"]
    assert (config.spatial_dims, config.dim, config.depth, config.heads) == (2, 128, 4, 8)
    assert (config.dim_head, config.kernel_multiplier, config.in_channels) == (64, 2, 10)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        (dict(dim=12), "multiple of 8"),
        (dict(heads=0), "heads"),
        (dict(rotary="absolute"), "rotary"),
        (dict(dim_head=3, kernel_multiplier=1), "even"),
        (dict(n_conditioning=-1), "n_conditioning"),
    ],
)
def test_invalid_configs_raise(changes, needle):
    data = {"kind": "factformer", "in_channels": 1, "out_channels": 1, "spatial_dims": 2}
    with pytest.raises(ConfigError, match=needle):
        model_config_from_dict(data | changes)
    if "n_conditioning" not in changes and "rotary" not in changes:
        with pytest.raises(ConfigError, match=needle):
            FactFormerConfig(in_channels=1, out_channels=1, spatial_dims=2, **changes)
