"""The contract every registered model honours, and the registry and config round-trips."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from flax import nnx
from jaxtyping import Array, Float

from neuralpde.config import ConfigError, from_dict, to_dict, to_yaml
from neuralpde.models import (
    FNO,
    MODELS,
    FactFormerConfig,
    FNOConfig,
    IFactFormerConfig,
    ModelConfig,
    SineNetConfig,
    UNetConfig,
    build_model,
    model_config_from_dict,
    model_from_dict,
)

# One tiny config per registered model, with two input resolutions (batch, *space).
TINY = {
    "fno": (
        FNOConfig(
            in_channels=1,
            out_channels=2,
            modes=(4, 5),
            width=8,
            depth=2,
            n_conditioning=2,
            domain_padding=2,
        ),
        [(2, 16, 20), (2, 24, 12)],
    ),
    "factformer": (
        FactFormerConfig(
            in_channels=1,
            out_channels=2,
            spatial_dims=2,
            dim=16,
            depth=1,
            heads=2,
            dim_head=4,
            n_conditioning=2,
        ),
        [(2, 8, 12), (2, 12, 6)],
    ),
    "ifactformer_m": (
        IFactFormerConfig(
            in_channels=1,
            out_channels=2,
            spatial_dims=2,
            dim=16,
            heads=2,
            dim_head=4,
            iterations=3,
            n_conditioning=2,
        ),
        [(2, 8, 12), (2, 12, 6)],
    ),
    "unet": (
        UNetConfig(
            in_channels=1,
            out_channels=2,
            hidden_channels=8,
            channel_multipliers=(1, 2),
            blocks_per_level=1,
            norm_groups=4,
            n_conditioning=2,
        ),
        [(2, 16, 20), (2, 24, 12)],
    ),
    "sinenet": (
        SineNetConfig(
            in_channels=1,
            out_channels=2,
            hidden_channels=8,
            waves=2,
            levels=1,
            channel_multiplier=2.0,
            n_conditioning=2,
        ),
        [(2, 16, 20), (2, 24, 12)],
    ),
}


def inputs(config, batch_space, seed=0):
    rng = np.random.default_rng(seed)
    u = jnp.asarray(rng.normal(size=(*batch_space, config.in_channels)), jnp.float32)
    n = getattr(config, "n_conditioning", 0)
    c = jnp.asarray(rng.normal(size=(batch_space[0], n)), jnp.float32) if n else None
    return u, c


def test_every_registered_model_has_a_tiny_config():
    assert set(TINY) == set(MODELS)
    for kind, (config, _) in TINY.items():
        assert isinstance(config, MODELS[kind][0]) and config.kind == kind


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_model_contract(kind):
    """Init, shapes, jit = eager, finite gradients, no retracing, a second resolution."""
    config, (space, other_space) = TINY[kind]
    model = build_model(config, rngs=nnx.Rngs(0))
    assert isinstance(model, MODELS[kind][1])
    u, c = inputs(config, space)

    traces = []

    @nnx.jit
    def forward(model, u, c):
        traces.append(u.shape)
        return model(u, c)

    eager = model(u, c)
    jitted = forward(model, u, c)
    assert isinstance(jitted, Float[Array, "batch x y channel"])
    assert jitted.shape == (*space, config.out_channels)
    # Fusion reorders float32 sums: near-zero outputs of a deep net err by ulps of its scale.
    scale = max(1.0, float(jnp.max(jnp.abs(eager))))
    np.testing.assert_allclose(jitted, eager, rtol=1e-5, atol=1e-6 * scale)

    forward(model, *inputs(config, space, seed=1))
    assert len(traces) == 1, "second call with the same shapes retraced"
    assert forward(model, *inputs(config, other_space)).shape == (*other_space, config.out_channels)
    assert len(traces) == 2

    grads = nnx.jit(nnx.grad(lambda m, u, c: jnp.mean(m(u, c) ** 2)))(model, u, c)
    leaves = jax.tree.leaves(nnx.state(grads, nnx.Param))
    assert leaves and all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert all(float(jnp.max(jnp.abs(g))) > 0 for g in leaves), "a parameter gets no gradient"


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_config_round_trips(kind):
    config, _ = TINY[kind]
    assert from_dict(type(config), to_dict(config)) == config
    assert model_config_from_dict(yaml.safe_load(to_yaml(config))) == config

    @dataclasses.dataclass(frozen=True)
    class Holder:  # how a training config embeds a model
        model: ModelConfig

    holder = Holder(model=config)
    assert from_dict(Holder, yaml.safe_load(to_yaml(holder))) == holder


def test_fno_config_normalises_modes_to_a_tuple():
    config = FNOConfig(in_channels=1, out_channels=1, modes=[3, np.int64(4)])
    assert config.modes == (3, 4) and hash(config)


def test_model_from_dict_builds_a_model():
    model = model_from_dict(
        {"kind": "fno", "in_channels": 1, "out_channels": 1, "modes": [6], "width": 8, "depth": 2},
        rngs=nnx.Rngs(0),
    )
    assert isinstance(model, FNO) and model.modes == (6,) and model.use_grid


def test_unknown_kind_lists_known_models():
    with pytest.raises(
        ConfigError, match=r"unknown model kind 'transformer'; known models: \[.*'fno'.*\]"
    ):
        model_config_from_dict({"kind": "transformer", "width": 3})
    with pytest.raises(ConfigError, match=r"needs a mapping with 'kind'"):
        model_config_from_dict({"width": 3})

    @dataclasses.dataclass(frozen=True)
    class Alien:
        kind: str = "alien"

    with pytest.raises(ConfigError, match="known models"):
        build_model(Alien(), rngs=nnx.Rngs(0))


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        (dict(modes=[]), "modes"),
        (dict(modes=[4, 0]), "modes"),
        (dict(width=0), "width"),
        (dict(domain_padding=-1), "domain_padding"),
        (dict(dtype="float16"), "dtype"),
        (dict(colour="red"), "unknown keys"),
    ],
)
def test_invalid_configs_raise(changes, needle):
    data = {"kind": "fno", "in_channels": 1, "out_channels": 1, "modes": [4]} | changes
    with pytest.raises(ConfigError, match=needle):
        model_config_from_dict(data)
