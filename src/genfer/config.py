"""Frozen, typed configs with named presets, dict/YAML round-trips and dotted overrides.

Every training run saves its resolved config (``config.json``) next to its checkpoints, and every
shipped model carries the config it was trained with, so a run can be rebuilt exactly.

Presets for the recognizer (``RECOGNIZER_PRESETS``):
  ``tiny``  seconds-long runs for tests;
  ``cpu``   the shipped recognizer: trains on 2 CPU cores in the background;
  ``paper`` a larger ResNet-18 at 64 px for users with a GPU.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is invalid; the message names the field."""


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def _check_transformer(section: str, dim_name: str, dim: int, depth: int, heads: int, *,
                       depth_name: str = "depth", heads_name: str = "num_heads") -> None:
    """Validate a transformer stack with 2D sin-cos position embeddings (dim divisible by heads and 4)."""
    _check(depth >= 1, f"{section}.{depth_name} must be >= 1, not {depth}")
    _check(heads >= 1, f"{section}.{heads_name} must be >= 1, not {heads}")
    _check(dim % heads == 0, f"{section}.{dim_name} {dim} must be divisible by {section}.{heads_name} {heads}")
    _check(dim % 4 == 0, f"{section}.{dim_name} {dim} must be divisible by 4 (2D sin-cos position embedding)")


@dataclass(frozen=True)
class ModelConfig:
    """Recognizer architecture."""

    arch: str = "resnet"
    depth: int = 18
    channels: tuple[int, ...] = (64, 128, 256, 512)
    stem_stride: int = 2
    patch_size: int = 6
    norm: str = "batch"
    in_chans: int = 1
    image_size: int = 48
    num_classes: int = 8
    drop_rate: float = 0.0

    def __post_init__(self) -> None:
        _check(self.arch in ("resnet", "vit"), f"model.arch must be 'resnet' or 'vit', not {self.arch!r}")
        _check(self.norm in ("batch", "group"), f"model.norm must be 'batch' or 'group', not {self.norm!r}")
        _check(self.in_chans in (1, 3), f"model.in_chans must be 1 or 3, not {self.in_chans}")
        _check(self.num_classes in (7, 8), f"model.num_classes must be 7 or 8, not {self.num_classes}")
        _check(16 <= self.image_size <= 512, f"model.image_size {self.image_size} out of range 16..512")
        _check(self.arch != "resnet" or len(self.channels) == 4, "model.channels needs 4 stage widths for resnet")
        _check(self.stem_stride in (1, 2), f"model.stem_stride must be 1 or 2, not {self.stem_stride}")
        _check(0 <= self.drop_rate < 1, "model.drop_rate must be in [0, 1)")


@dataclass(frozen=True)
class DataConfig:
    """Which dataset to train and validate on. ``root`` empty means ``$GENFER_DATA/<dataset>``."""

    dataset: str = "ferplus"
    root: str = ""
    train_split: str = "train"
    val_split: str = "valid"
    label_source: str = "majority"
    target: str = "votes"
    limit_train: int = 0
    limit_val: int = 0

    def __post_init__(self) -> None:
        _check(self.target in ("votes", "label"), f"data.target must be 'votes' or 'label', not {self.target!r}")
        _check(self.limit_train >= 0 and self.limit_val >= 0, "data.limit_* must be >= 0")


@dataclass(frozen=True)
class AugmentConfig:
    """Batched on-the-fly augmentation (see :mod:`genfer.data.augment`)."""

    hflip: bool = True
    rotate_deg: float = 10.0
    scale: float = 0.1
    shift: float = 0.08
    brightness: float = 0.3
    contrast: float = 0.3
    erase_prob: float = 0.25

    def __post_init__(self) -> None:
        _check(0 <= self.erase_prob <= 1, "augment.erase_prob must be in [0, 1]")
        _check(self.rotate_deg >= 0 and self.scale >= 0 and self.shift >= 0, "augment ranges must be >= 0")


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser, schedule and regularisation."""

    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    epochs: float = 30.0
    batch_size: int = 64
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    ema_decay: float = 0.999
    grad_clip: float = 0.0

    def __post_init__(self) -> None:
        _check(self.optimizer in ("sgd", "adamw"), f"optim.optimizer must be 'sgd' or 'adamw', not {self.optimizer!r}")
        _check(self.lr > 0, "optim.lr must be > 0")
        _check(self.epochs > 0, "optim.epochs must be > 0")
        _check(self.batch_size > 0, "optim.batch_size must be > 0")
        _check(0 <= self.label_smoothing < 1, "optim.label_smoothing must be in [0, 1)")
        _check(0 <= self.ema_decay < 1, "optim.ema_decay must be in [0, 1)")


@dataclass(frozen=True)
class TrainConfig:
    """A recognizer training run."""

    name: str = "recognizer"
    seed: int = 0
    threads: int = 0
    checkpoint_minutes: float = 5.0
    eval_every_epochs: float = 1.0
    keep_checkpoints: int = 2
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        _check(self.checkpoint_minutes > 0, "checkpoint_minutes must be > 0")
        _check(self.keep_checkpoints >= 1, "keep_checkpoints must be >= 1")
        _check(self.threads >= 0, "threads must be >= 0 (0 = torch default)")


RECOGNIZER_PRESETS: dict[str, TrainConfig] = {
    "tiny": TrainConfig(
        name="tiny",
        checkpoint_minutes=0.05,
        model=ModelConfig(depth=10, channels=(8, 16, 16, 32), image_size=32),
        data=DataConfig(limit_train=256, limit_val=128),
        optim=OptimConfig(epochs=2, batch_size=32, lr=0.05, warmup_epochs=0.5, ema_decay=0.9),
    ),
    "cpu": TrainConfig(
        name="cpu",
        model=ModelConfig(depth=18, channels=(32, 64, 128, 256), image_size=48),
        optim=OptimConfig(epochs=40, batch_size=64, lr=0.1),
    ),
    "paper": TrainConfig(
        name="paper",
        model=ModelConfig(depth=18, channels=(64, 128, 256, 512), image_size=64, drop_rate=0.2),
        optim=OptimConfig(epochs=60, batch_size=128, lr=0.1),
    ),
}


# --------------------------------------------------------------------------- dict / YAML round trips


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON-able data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, prefix=f"{where}.")
    if origin is tuple:
        args = typing.get_args(tp)
        item = args[0] if args else Any
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, not {value!r}")
        return tuple(_coerce(item, v, where) for v in value)
    if origin in (typing.Union, types.UnionType):
        return value
    if tp is bool:
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        return value
    if tp in (int, float, str):
        try:
            out = tp(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be {tp.__name__}, not {value!r}") from None
        if tp is int and isinstance(value, float) and value != out:
            raise ConfigError(f"{where} must be an integer, not {value!r}")
        return out
    return value


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build config ``cls`` from nested plain data; unknown keys are an error naming them."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, not {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(prefix + k for k in unknown)}")
    kwargs = {k: _coerce(hints[k], v, prefix + k) for k, v in data.items()}
    return cls(**kwargs)


def apply_overrides(cfg: T, overrides: list[str]) -> T:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a frozen config."""
    data = to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value (e.g. optim.lr=0.05)")
        key, raw = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"unknown config section {p!r} in override {item!r}")
            node = node[p]
        if parts[-1] not in node:
            raise ConfigError(f"unknown config key {key!r} in override {item!r}")
        node[parts[-1]] = yaml.safe_load(raw)
    return from_dict(type(cfg), data)


def save_config(cfg: Any, path: str | Path) -> None:
    """Write a config as JSON (``.json``) or YAML (anything else)."""
    path = Path(path)
    data = to_dict(cfg)
    text = json.dumps(data, indent=2) if path.suffix == ".json" else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text)


def load_config(cls: type[T], path: str | Path) -> T:
    """Read a JSON or YAML config file into ``cls``."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML/JSON: {exc}".splitlines()[0]) from None
    return from_dict(cls, data or {})


def preset(name: str, presets: dict[str, T] = RECOGNIZER_PRESETS) -> T:  # type: ignore[assignment]
    """A named preset; unknown names are an error listing the choices."""
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(presets)}")
    return presets[name]


__all__ = [
    "AugmentConfig",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "RECOGNIZER_PRESETS",
    "TrainConfig",
    "apply_overrides",
    "from_dict",
    "load_config",
    "preset",
    "replace",
    "save_config",
    "to_dict",
]


# --------------------------------------------------------------------------- ViT encoders and MAE (PF-ViT)


@dataclass(frozen=True)
class ViTConfig:
    """A plain ViT encoder (:class:`genfer.models.vit.ViT`) with fixed 2D sin-cos position embeddings.

    The paper's sizes (Table 1 of PF-ViT) are ``VIT_PRESETS['vit_tiny' | 'vit_small' | 'vit_base']``:
    patch 16, 12 layers, widths 192/384/768 with 64 dims per head.
    """

    image_size: int = 224
    patch_size: int = 16
    in_chans: int = 3
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    drop_path: float = 0.0

    def __post_init__(self) -> None:
        _check(self.in_chans in (1, 3), f"vit.in_chans must be 1 or 3, not {self.in_chans}")
        _check(self.patch_size >= 1, f"vit.patch_size must be >= 1, not {self.patch_size}")
        _check(
            self.image_size >= self.patch_size and self.image_size % self.patch_size == 0,
            f"vit.image_size {self.image_size} must be a positive multiple of vit.patch_size {self.patch_size}",
        )
        _check_transformer("vit", "embed_dim", self.embed_dim, self.depth, self.num_heads)
        _check(self.mlp_ratio > 0, f"vit.mlp_ratio must be > 0, not {self.mlp_ratio}")
        _check(0 <= self.drop_path < 1, f"vit.drop_path must be in [0, 1), not {self.drop_path}")

    @property
    def num_patches(self) -> int:
        """N = (image_size / patch_size)²."""
        return (self.image_size // self.patch_size) ** 2


@dataclass(frozen=True)
class MAEConfig:
    """A masked autoencoder (:class:`genfer.models.mae.MaskedAutoencoder`): encoder + light decoder.

    ``norm_pix`` is read by the loss (:func:`genfer.losses.mae.mae_loss`), not by the model.
    """

    encoder: ViTConfig = field(default_factory=ViTConfig)
    decoder_dim: int = 512
    decoder_depth: int = 8
    decoder_heads: int = 16
    mask_ratio: float = 0.75
    norm_pix: bool = True

    def __post_init__(self) -> None:
        _check_transformer("mae", "decoder_dim", self.decoder_dim, self.decoder_depth, self.decoder_heads,
                           depth_name="decoder_depth", heads_name="decoder_heads")
        _check(0 < self.mask_ratio < 1, f"mae.mask_ratio must be in (0, 1), not {self.mask_ratio}")
        n = self.encoder.num_patches
        keep = round(n * (1 - self.mask_ratio))
        _check(
            1 <= keep < n,
            f"mae.mask_ratio {self.mask_ratio} keeps {keep} of {n} patches; it must keep at least one and mask at least one",
        )


# The paper's ViT sizes (PF-ViT Table 1, encoders: 64 dims per head) and genfer's small sizes.
# ``tiny`` is for tests; ``cpu`` is the encoder of ``MAE_PRESETS['cpu']`` (48 px grayscale FER2013 faces).
VIT_PRESETS: dict[str, ViTConfig] = {
    "tiny": ViTConfig(image_size=32, patch_size=8, in_chans=1, embed_dim=32, depth=2, num_heads=2),
    "cpu": ViTConfig(image_size=48, patch_size=6, in_chans=1, embed_dim=192, depth=12, num_heads=3),
    "vit_tiny": ViTConfig(image_size=224, patch_size=16, in_chans=3, embed_dim=192, depth=12, num_heads=3),
    "vit_small": ViTConfig(image_size=224, patch_size=16, in_chans=3, embed_dim=384, depth=12, num_heads=6),
    "vit_base": ViTConfig(image_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12),
}

# PF-ViT Table 1: the MAE decoder paired with each encoder width -> (decoder_dim, decoder_depth, decoder_heads),
# 32 dims per head.
MAE_TABLE1_DECODERS: dict[int, tuple[int, int, int]] = {
    192: (128, 8, 4),  # ViT-T
    384: (256, 8, 8),  # ViT-S
    768: (512, 8, 16),  # ViT-B
}


def _table1_mae(encoder: ViTConfig, name: str) -> MAEConfig:
    dim, depth, heads = MAE_TABLE1_DECODERS[encoder.embed_dim]
    _check(encoder.depth == 12, f"{name}: Table 1 encoders have 12 layers")
    return MAEConfig(encoder=encoder, decoder_dim=dim, decoder_depth=depth, decoder_heads=heads)


MAE_PRESETS: dict[str, MAEConfig] = {
    "tiny": MAEConfig(encoder=VIT_PRESETS["tiny"], decoder_dim=32, decoder_depth=1, decoder_heads=2),
    # ViT-T encoder at 48 px / patch 6 (8x8 patches, 16 kept) with Table 1's ViT-T decoder (128 x 8 x 4 heads):
    # 1.16 GFLOP per image fwd+bwd; fwd+bwd+AdamW at batch 64 measured ~53 img/s on ONE thread of a busy
    # machine, where timm ViT-T at 112 px (DESIGN: ~100 img/s on 2 free threads) measured 40-45 img/s.
    "cpu": _table1_mae(VIT_PRESETS["cpu"], "cpu"),
    "paper": _table1_mae(VIT_PRESETS["vit_base"], "paper"),
    "paper_vit_small": _table1_mae(VIT_PRESETS["vit_small"], "paper_vit_small"),
    "paper_vit_tiny": _table1_mae(VIT_PRESETS["vit_tiny"], "paper_vit_tiny"),
}

__all__ += ["MAEConfig", "MAE_PRESETS", "MAE_TABLE1_DECODERS", "VIT_PRESETS", "ViTConfig"]
