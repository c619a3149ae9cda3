"""Recognizer configs (``genfer train``) and the building blocks other methods reuse: data, augmentation,
optimiser sections.

Presets (``RECOGNIZER_PRESETS``):
  ``tiny``         seconds-long runs for tests;
  ``cpu``          the shipped recognizer: trains on 2 CPU cores in the background;
  ``cpu_fer2013``  the shipped recognizer fine-tuned on FER2013's original 7-class labels;
  ``paper``        a larger ResNet-18 at 64 px for users with a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from genfer.config.base import _check
from genfer.config.run import RunConfig


@dataclass(frozen=True)
class RecognizerModelConfig:
    """Recognizer architecture.

    ``resnet``: ``depth`` and the four stage widths ``channels``. ``vit``: timm's ViT with learned position
    embeddings. ``mae_vit``: genfer's ViT with fixed 2D sin-cos embeddings (the MAE / PF-ViT encoder) and a
    linear head on [CLS] — PF-ViT's ViT baseline, fine-tuned from an MAE run with ``init_from``. For the ViTs,
    ``channels[0]`` is the width, ``num_heads`` the attention heads (0: width / 64), ``depth`` the number of blocks,
    ``patch_size`` the patch.
    """

    arch: str = "resnet"
    depth: int = 18
    channels: tuple[int, ...] = (64, 128, 256, 512)
    stem_stride: int = 2
    patch_size: int = 6
    num_heads: int = 0
    norm: str = "batch"
    in_chans: int = 1
    image_size: int = 48
    num_classes: int = 8
    drop_rate: float = 0.0

    def __post_init__(self) -> None:
        _check(self.arch in ("resnet", "vit", "mae_vit"),
               f"model.arch must be 'resnet', 'vit' or 'mae_vit', not {self.arch!r}")
        _check(self.norm in ("batch", "group"), f"model.norm must be 'batch' or 'group', not {self.norm!r}")
        _check(self.in_chans in (1, 3), f"model.in_chans must be 1 or 3, not {self.in_chans}")
        _check(self.num_classes in (7, 8), f"model.num_classes must be 7 or 8, not {self.num_classes}")
        _check(16 <= self.image_size <= 512, f"model.image_size {self.image_size} out of range 16..512")
        _check(self.arch != "resnet" or len(self.channels) == 4, "model.channels needs 4 stage widths for resnet")
        _check(self.stem_stride in (1, 2), f"model.stem_stride must be 1 or 2, not {self.stem_stride}")
        _check(0 <= self.drop_rate < 1, "model.drop_rate must be in [0, 1)")
        _check(self.num_heads >= 0, "model.num_heads must be >= 0 (0: width / 64)")

    @property
    def heads(self) -> int:
        """Attention heads of the ViT archs: ``num_heads``, or width / 64."""
        return self.num_heads or max(1, self.channels[0] // 64)


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
    skip_bad: bool = False  # leave out (and count) images that cannot be read, instead of stopping at the first
    teacher: str = ""  # distillation: an .npz of teacher probabilities per training image (scripts/teacher_targets.py)
    teacher_weight: float = 0.5  # training target = (1 - w) * target + w * teacher

    def __post_init__(self) -> None:
        _check(self.target in ("votes", "label"), f"data.target must be 'votes' or 'label', not {self.target!r}")
        _check(0 <= self.teacher_weight <= 1, "data.teacher_weight must be in [0, 1]")
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


PRECISIONS = ("float32", "bfloat16")
"""Network arithmetic: ``float32``, or ``bfloat16`` autocast (``torch.autocast``). In training (``optim.precision``)
it covers the step's forward pass and loss; weights, gradients, optimiser state, weight average and validation
stay float32. The batched generative pipelines' ``--precision`` takes the same values."""


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser, schedule and regularisation; ``precision`` of the training step's forward pass and loss
    (:data:`PRECISIONS`; ``bfloat16``: recognizer and MAE training)."""

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
    betas: tuple[float, float] = (0.9, 0.999)
    precision: str = "float32"

    def __post_init__(self) -> None:
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "optim.betas must be two values in [0, 1)")
        _check(self.optimizer in ("sgd", "adamw", "adam"), f"optim.optimizer must be 'sgd', 'adam' or 'adamw', not {self.optimizer!r}")
        _check(self.lr > 0, "optim.lr must be > 0")
        _check(self.epochs > 0, "optim.epochs must be > 0")
        _check(self.batch_size > 0, "optim.batch_size must be > 0")
        _check(0 <= self.label_smoothing < 1, "optim.label_smoothing must be in [0, 1)")
        _check(0 <= self.ema_decay < 1, "optim.ema_decay must be in [0, 1)")
        _check(self.precision in PRECISIONS,
               f"optim.precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")


def check_float32_only(method: str, *optims: OptimConfig) -> None:
    """Reject ``optim.precision`` bfloat16 for a method whose trainer has no bfloat16 step."""
    _check(all(o.precision == "float32" for o in optims),
           f"optim.precision bfloat16 is for recognizer and MAE training; {method} trains in float32 only")


@dataclass(frozen=True)
class RecognizerTrainConfig(RunConfig):
    """A recognizer training run.

    ``init_from`` (a shipped model name or a model/checkpoint folder) starts a new run from that model's
    weights; tensors whose shape differs (e.g. a head with another number of classes) start fresh.
    """

    method: ClassVar[str] = "recognizer"

    name: str = "recognizer"
    eval_every_epochs: float = 1.0
    init_from: str = ""
    model: RecognizerModelConfig = field(default_factory=RecognizerModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.eval_every_epochs > 0, "eval_every_epochs must be > 0")


RECOGNIZER_PRESETS: dict[str, RecognizerTrainConfig] = {
    "tiny": RecognizerTrainConfig(
        name="tiny",
        checkpoint_minutes=0.05,
        model=RecognizerModelConfig(depth=10, channels=(8, 16, 16, 32), image_size=32),
        data=DataConfig(limit_train=256, limit_val=128),
        optim=OptimConfig(epochs=2, batch_size=32, lr=0.05, warmup_epochs=0.5, ema_decay=0.9),
    ),
    "cpu": RecognizerTrainConfig(
        name="cpu",
        model=RecognizerModelConfig(depth=18, channels=(32, 64, 128, 256), image_size=48),
        optim=OptimConfig(epochs=40, batch_size=64, lr=0.1),
    ),
    # The FER2013-label recognizer: the shipped FERPlus model fine-tuned on FER2013's original 7-class labels of
    # the same training images, validated on PublicTest (= FER2013Valid with those labels).
    "cpu_fer2013": RecognizerTrainConfig(
        name="cpu_fer2013",
        init_from="fer-resnet18s-48",
        model=RecognizerModelConfig(depth=18, channels=(32, 64, 128, 256), image_size=48, num_classes=7),
        data=DataConfig(label_source="fer2013", target="label"),
        optim=OptimConfig(epochs=16, batch_size=64, lr=0.03, warmup_epochs=0.5),
    ),
    # PF-ViT's ViT baseline (Table 3 protocol: Adam 1e-4, batch 32, linear head on [CLS]) on the MAE cpu
    # encoder's size; ``--set init_from=runs/mae-cpu/final`` fine-tunes the MAE encoder, without it: from scratch.
    "cpu_vit": RecognizerTrainConfig(
        name="cpu_vit",
        model=RecognizerModelConfig(arch="mae_vit", depth=12, channels=(192,), patch_size=6, image_size=48, drop_rate=0.1),
        optim=OptimConfig(optimizer="adam", lr=1e-4, weight_decay=0.0, epochs=2, batch_size=32, warmup_epochs=0.2,
                          label_smoothing=0.0, ema_decay=0.999),
    ),
    "paper": RecognizerTrainConfig(
        name="paper",
        model=RecognizerModelConfig(depth=18, channels=(64, 128, 256, 512), image_size=64, drop_rate=0.2),
        optim=OptimConfig(epochs=60, batch_size=128, lr=0.1),
    ),
}
