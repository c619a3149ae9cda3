"""Frozen, typed configs with named presets, dict/YAML round-trips and dotted overrides.

Every training run saves its resolved config (``config.json``) next to its checkpoints, and every
shipped model carries the config it was trained with, so a run can be rebuilt exactly. One module per
training method (:mod:`.recognizer`, :mod:`.vit` for ViT sizes and MAE runs, :mod:`.pfvit`, ...), the shared
machinery in :mod:`.base`; everything is importable from ``genfer.config``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from genfer.config import base as _base
from genfer.config.base import ConfigError, apply_overrides, from_dict, load_config, save_config, to_dict
from genfer.config.pfvit import (
    ORTHOGONALITY_OPTIONS,
    PFVIT_PRESETS,
    PFViTLossWeights,
    PFViTModelConfig,
    PFViTTrainConfig,
)
from genfer.config.recognizer import (
    RECOGNIZER_PRESETS,
    AugmentConfig,
    DataConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
)
from genfer.config.switchgan import (
    SWITCHGAN_ABLATIONS,
    SWITCHGAN_PRESETS,
    SwitchGANLossWeights,
    SwitchGANModelConfig,
    SwitchGANTrainConfig,
)
from genfer.config.vit import (
    MAE_PRESETS,
    MAE_TABLE1_DECODERS,
    MAE_TRAIN_PRESETS,
    VIT_PRESETS,
    ImageSource,
    MAEConfig,
    MAETrainConfig,
    ViTConfig,
)
from genfer.config.stylegan2 import (
    PSP_PRESETS,
    STYLEGAN2_PRESETS,
    InversionLossConfig,
    InversionLossWeights,
    PSpEncoderConfig,
    PSpTrainConfig,
    StyleGAN2Config,
    StyleGAN2TrainConfig,
)

T = TypeVar("T")


def preset(name: str, presets: dict[str, T] = RECOGNIZER_PRESETS) -> T:  # type: ignore[assignment]
    """A named preset of ``presets`` (default: the recognizer's); unknown names are an error listing the choices."""
    return _base.preset(name, presets)


__all__ = [
    "AugmentConfig",
    "ConfigError",
    "DataConfig",
    "ImageSource",
    "MAEConfig",
    "MAETrainConfig",
    "MAE_PRESETS",
    "MAE_TABLE1_DECODERS",
    "MAE_TRAIN_PRESETS",
    "ModelConfig",
    "ORTHOGONALITY_OPTIONS",
    "OptimConfig",
    "PFVIT_PRESETS",
    "PFViTLossWeights",
    "PFViTModelConfig",
    "PFViTTrainConfig",
    "RECOGNIZER_PRESETS",
    "PSP_PRESETS",
    "STYLEGAN2_PRESETS",
    "InversionLossConfig",
    "InversionLossWeights",
    "PSpEncoderConfig",
    "PSpTrainConfig",
    "StyleGAN2Config",
    "StyleGAN2TrainConfig",
    "SWITCHGAN_ABLATIONS",
    "SWITCHGAN_PRESETS",
    "SwitchGANLossWeights",
    "SwitchGANModelConfig",
    "SwitchGANTrainConfig",
    "TrainConfig",
    "VIT_PRESETS",
    "ViTConfig",
    "apply_overrides",
    "from_dict",
    "load_config",
    "preset",
    "replace",
    "save_config",
    "to_dict",
]
