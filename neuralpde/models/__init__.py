"""Neural operators in Flax NNX, channels-last ``(batch, *space, channel)``, and their registry."""

from neuralpde.models.film import FiLM, modulate
from neuralpde.models.fno import FNO, FNOConfig
from neuralpde.models.registry import (
    MODELS,
    ModelConfig,
    build_model,
    model_config_from_dict,
    model_from_dict,
)
from neuralpde.models.spectral_conv import SpectralConv

__all__ = [
    "FNO",
    "MODELS",
    "FNOConfig",
    "FiLM",
    "ModelConfig",
    "SpectralConv",
    "build_model",
    "model_config_from_dict",
    "model_from_dict",
    "modulate",
]
