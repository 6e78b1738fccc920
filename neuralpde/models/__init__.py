"""Neural operators in Flax NNX, channels-last ``(batch, *space, channel)``, and their registry."""

from neuralpde.models.factformer import FactFormer, FactFormerConfig
from neuralpde.models.factorized_attention import FactorizedAttention
from neuralpde.models.film import FiLM, modulate
from neuralpde.models.fno import FNO, FNOConfig
from neuralpde.models.fourier_features import FourierGridEncoding
from neuralpde.models.ifactformer import IFactFormer, IFactFormerConfig
from neuralpde.models.registry import (
    MODELS,
    ModelConfig,
    build_model,
    model_config_from_dict,
    model_from_dict,
)
from neuralpde.models.sinenet import SineNet, SineNetConfig
from neuralpde.models.spectral_conv import SpectralConv
from neuralpde.models.unet import UNet, UNetConfig

__all__ = [
    "FNO",
    "MODELS",
    "FNOConfig",
    "FactFormer",
    "FactFormerConfig",
    "FactorizedAttention",
    "FiLM",
    "FourierGridEncoding",
    "IFactFormer",
    "IFactFormerConfig",
    "ModelConfig",
    "SineNet",
    "SineNetConfig",
    "SpectralConv",
    "UNet",
    "UNetConfig",
    "build_model",
    "model_config_from_dict",
    "model_from_dict",
    "modulate",
]
