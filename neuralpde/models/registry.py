"""The explicit model registry: each ``kind`` names a frozen config and the module it builds."""

from __future__ import annotations

import dataclasses
from typing import Any

from flax import nnx

from neuralpde.config import ConfigError, from_dict
from neuralpde.models.factformer import FactFormer, FactFormerConfig
from neuralpde.models.fno import FNO, FNOConfig
from neuralpde.models.ifactformer import IFactFormer, IFactFormerConfig
from neuralpde.models.sinenet import SineNet, SineNetConfig
from neuralpde.models.unet import UNet, UNetConfig

MODELS: dict[str, tuple[type, type[nnx.Module]]] = {
    "fno": (FNOConfig, FNO),
    "factformer": (FactFormerConfig, FactFormer),
    "ifactformer_m": (IFactFormerConfig, IFactFormer),
    "unet": (UNetConfig, UNet),
    "sinenet": (SineNetConfig, SineNet),
}
"""``kind -> (config class, module class)``; a module takes its config's fields as arguments."""

ModelConfig = FNOConfig | FactFormerConfig | IFactFormerConfig | UNetConfig | SineNetConfig
"""The tagged union of model configs (``FNOConfig | UNetConfig | ...`` as models arrive)."""


def _entry(kind: Any) -> tuple[type, type[nnx.Module]]:
    if kind not in MODELS:
        raise ConfigError(f"unknown model kind {kind!r}; known models: {sorted(MODELS)}")
    return MODELS[kind]


def build_model(config: ModelConfig, *, rngs: nnx.Rngs) -> nnx.Module:
    """The module described by ``config``, with parameters drawn from ``rngs``."""
    config_cls, model_cls = _entry(getattr(config, "kind", None))
    if not isinstance(config, config_cls):
        raise TypeError(f"kind {config.kind!r} needs a {config_cls.__name__}, got {config!r}")
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    del fields["kind"]
    return model_cls(**fields, rngs=rngs)


def model_config_from_dict(data: Any) -> ModelConfig:
    """The config for plain data ``{kind: ..., ...}``, with every key and the kind checked."""
    if not isinstance(data, dict) or "kind" not in data:
        raise ConfigError(f"a model config needs a mapping with 'kind', one of {sorted(MODELS)}")
    config_cls, _ = _entry(data["kind"])
    return from_dict(config_cls, data, where=f"model[{data['kind']}]")


def model_from_dict(data: Any, *, rngs: nnx.Rngs) -> nnx.Module:
    """``build_model(model_config_from_dict(data), rngs=rngs)``."""
    return build_model(model_config_from_dict(data), rngs=rngs)
