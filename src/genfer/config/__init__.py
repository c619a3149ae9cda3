"""Frozen, typed configs with named presets, dict/YAML round-trips and dotted overrides.

Every training run saves its resolved config (``config.json``, naming its ``method``) next to its checkpoints,
and every shipped model carries the config it was trained with, so a run can be rebuilt exactly. One module per
training method (:mod:`.recognizer`, :mod:`.mae`, :mod:`.pfvit`, :mod:`.switchgan`, :mod:`.stylegan2`,
:mod:`.psp`, :mod:`.asit` for ASIT and IFER), ViT sizes in :mod:`.vit`, the fields every run shares in :mod:`.run` and the machinery in
:mod:`.base`; everything is importable from ``genfer.config``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from genfer.config import base as _base
from genfer.config.asit import (
    ASIT_ABLATIONS,
    ASIT_PRESETS,
    IFER_ABLATIONS,
    IFER_PRESETS,
    ASITEncoderConfig,
    ASITTrainConfig,
    DALConfig,
    GCViTConfig,
    IFERModelConfig,
    IFERTrainConfig,
    IIDConfig,
)
from genfer.config.base import (
    ConfigError,
    apply_overrides,
    from_dict,
    load_config,
    save_config,
    to_dict,
)
from genfer.config.hyperstyle import (
    HYPERSTYLE_PRESETS,
    HyperNetConfig,
    HyperStyleTrainConfig,
)
from genfer.config.mae import (
    MAE_PRESETS,
    MAE_TABLE1_DECODERS,
    MAE_TRAIN_PRESETS,
    MAEConfig,
    MAETrainConfig,
)
from genfer.config.pfvit import (
    ORTHOGONALITY_OPTIONS,
    PFVIT_PRESETS,
    PFViTLossWeights,
    PFViTModelConfig,
    PFViTTrainConfig,
)
from genfer.config.psp import (
    PSP_PRESETS,
    InversionLossConfig,
    InversionLossWeights,
    PSpEncoderConfig,
    PSpTrainConfig,
)
from genfer.config.recognizer import (
    PRECISIONS,
    RECOGNIZER_PRESETS,
    AugmentConfig,
    DataConfig,
    OptimConfig,
    RecognizerModelConfig,
    RecognizerTrainConfig,
)
from genfer.config.run import DEFAULT_SOURCES, ImageSource, PooledRunConfig, RunConfig
from genfer.config.stylegan2 import (
    STYLEGAN2_PRESETS,
    StyleGAN2Config,
    StyleGAN2TrainConfig,
)
from genfer.config.switchgan import (
    SWITCHGAN_ABLATIONS,
    SWITCHGAN_PRESETS,
    SwitchGANLossWeights,
    SwitchGANModelConfig,
    SwitchGANTrainConfig,
)
from genfer.config.vit import VIT_PRESETS, ViTConfig

T = TypeVar("T")


def preset(name: str, presets: dict[str, T] = RECOGNIZER_PRESETS) -> T:  # type: ignore[assignment]
    """A named preset of ``presets`` (default: the recognizer's); unknown names are an error listing the choices."""
    return _base.preset(name, presets)


def config_document(cfg: RunConfig) -> dict[str, Any]:
    """What ``config.json`` holds for a run config: ``{"method": ..., **fields}``."""
    return {"method": type(cfg).method, **to_dict(cfg)}


__all__ = [
    "ASIT_ABLATIONS",
    "ASIT_PRESETS",
    "ASITEncoderConfig",
    "ASITTrainConfig",
    "AugmentConfig",
    "DALConfig",
    "GCViTConfig",
    "IFER_ABLATIONS",
    "IFER_PRESETS",
    "IFERModelConfig",
    "IFERTrainConfig",
    "IIDConfig",
    "ConfigError",
    "DEFAULT_SOURCES",
    "DataConfig",
    "ImageSource",
    "HYPERSTYLE_PRESETS",
    "HyperNetConfig",
    "HyperStyleTrainConfig",
    "InversionLossConfig",
    "InversionLossWeights",
    "MAEConfig",
    "MAETrainConfig",
    "MAE_PRESETS",
    "MAE_TABLE1_DECODERS",
    "MAE_TRAIN_PRESETS",
    "ORTHOGONALITY_OPTIONS",
    "OptimConfig",
    "PRECISIONS",
    "PFVIT_PRESETS",
    "PFViTLossWeights",
    "PFViTModelConfig",
    "PFViTTrainConfig",
    "PSP_PRESETS",
    "PSpEncoderConfig",
    "PSpTrainConfig",
    "PooledRunConfig",
    "RECOGNIZER_PRESETS",
    "RecognizerModelConfig",
    "RecognizerTrainConfig",
    "RunConfig",
    "STYLEGAN2_PRESETS",
    "SWITCHGAN_ABLATIONS",
    "SWITCHGAN_PRESETS",
    "StyleGAN2Config",
    "StyleGAN2TrainConfig",
    "SwitchGANLossWeights",
    "SwitchGANModelConfig",
    "SwitchGANTrainConfig",
    "VIT_PRESETS",
    "ViTConfig",
    "apply_overrides",
    "config_document",
    "from_dict",
    "load_config",
    "preset",
    "replace",
    "save_config",
    "to_dict",
]
