"""pSp inversion-encoder configs (``genfer train psp``): the encoder, the inversion loss and the run against a
frozen, trained StyleGAN2.

Presets (``PSP_PRESETS``): ``tiny`` for tests, ``cpu`` (the shipped ``psp-gray64``), ``paper``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from genfer.config.base import _check
from genfer.config.recognizer import AugmentConfig
from genfer.config.run import PooledRunConfig
from genfer.config.stylegan2 import (
    CPU_MODEL,
    GAN_AUGMENT,
    PAPER_1024_MODEL,
    PAPER_MODEL,
    TINY_MODEL,
    StyleGAN2Config,
    _is_power_of_two,
)

PERCEPTUAL_NETS = ("genfer", "alex", "vgg")
"""Perceptual distances of the inversion loss: LPIPS-alex/vgg need the user's weights file; ``genfer`` is
the offline ``genfer-lpips`` over a shipped recognizer."""


@dataclass(frozen=True)
class InversionLossWeights:
    """Weights of the inversion loss (pSp's Eq. 5 as IFER's appendix sets them for faces):
    ``0.8·L2 + 1·LPIPS + 0.1·ID + 1e-4·L_reg``. A zero weight skips the term (and its network)."""

    l2: float = 0.8
    lpips: float = 1.0
    id: float = 0.1
    w_reg: float = 1e-4

    def __post_init__(self) -> None:
        _check(all(w >= 0 for w in (self.l2, self.lpips, self.id, self.w_reg)), "loss weights must be >= 0")


@dataclass(frozen=True)
class InversionLossConfig:
    """The inversion loss: weights and the networks behind the perceptual and identity terms.

    ``lpips_net``: ``genfer`` (offline ``genfer-lpips`` over recognizer ``lpips_model``) or ``alex``/``vgg``
    (LPIPS with the user's ``lpips_weights`` file). The identity term uses genfer's port of dlib's face
    ResNet at ``id_size`` px (>= 112).
    """

    weights: InversionLossWeights = field(default_factory=InversionLossWeights)
    lpips_net: str = "genfer"
    lpips_weights: str = ""
    lpips_model: str = "fer-resnet18s-48"
    id_size: int = 112

    def __post_init__(self) -> None:
        _check(self.lpips_net in PERCEPTUAL_NETS,
               f"loss.lpips_net must be one of {', '.join(PERCEPTUAL_NETS)}, not {self.lpips_net!r}")
        _check(self.lpips_net == "genfer" or bool(self.lpips_weights) or self.weights.lpips == 0,
               f"loss.lpips_net {self.lpips_net} needs loss.lpips_weights (a weights file); or use genfer")
        _check(self.id_size >= 112, f"loss.id_size must be >= 112 (dlib's network), not {self.id_size}")


@dataclass(frozen=True)
class PSpEncoderConfig:
    """pSp's GradualStyleEncoder (:class:`genfer.models.psp.GradualStyleEncoder`).

    An IR(-SE) ResNet: a stride-1 3×3 stem to ``stage_channels[0]``, then four stages of ``stage_blocks``
    bottleneck-IR blocks (the first of each with stride 2); the feature pyramid takes stages 2, 3, 4 (pSp:
    IR-50 = (3, 4, 14, 3) blocks of (64, 128, 256, 512) channels). W+ entries ``[0, coarse_end)`` are
    predicted from the coarsest level, ``[coarse_end, medium_end)`` from the middle one, the rest from the
    finest (pSp: 3 and 7). ``input_size`` is the side of the encoder's input and of the images the loss
    compares (generator outputs are area-resized to it, as pSp pools 1024 px outputs to 256); 0 means the
    generator's resolution.
    """

    input_size: int = 0
    stage_channels: tuple[int, ...] = (64, 128, 256, 512)
    stage_blocks: tuple[int, ...] = (3, 4, 14, 3)
    se: bool = True
    coarse_end: int = 3
    medium_end: int = 7

    def __post_init__(self) -> None:
        _check(len(self.stage_channels) == 4 and len(self.stage_blocks) == 4,
               "encoder.stage_channels and encoder.stage_blocks need 4 entries (IR stages)")
        _check(all(c >= 1 for c in self.stage_channels) and all(b >= 1 for b in self.stage_blocks),
               "encoder stage channels and blocks must be >= 1")
        _check(1 <= self.coarse_end < self.medium_end, "encoder needs 1 <= coarse_end < medium_end")
        _check(self.input_size == 0 or _is_power_of_two(self.input_size),
               f"encoder.input_size must be 0 or a power of two >= 8, not {self.input_size}")


@dataclass(frozen=True)
class StepRunConfig(PooledRunConfig):
    """A pooled-images run counted in optimiser steps (pSp, ASIT, HyperStyle): ``steps`` of ``batch_size`` images
    (``augment``-ed), Adam's ``lr`` and ``betas``; every ``eval_every_steps`` steps ``eval_images`` held-out
    images are evaluated, the first ``grid_images`` of them saved as a grid (``grid_images <= eval_images <=
    holdout``)."""

    batch_size: int = 8
    steps: int = 500_000
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    augment: AugmentConfig = field(default_factory=lambda: GAN_AUGMENT)
    grid_images: int = 8
    eval_every_steps: int = 5000
    eval_images: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.batch_size >= 1 and self.steps >= 1, "batch_size and steps must be >= 1")
        _check(self.lr > 0, "lr must be > 0")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas must be two values in [0, 1)")
        _check(self.eval_every_steps >= 1, "eval_every_steps must be >= 1")
        _check(0 <= self.grid_images <= self.eval_images <= self.holdout,
               "need 0 <= grid_images <= eval_images <= holdout")


@dataclass(frozen=True)
class PSpTrainConfig(StepRunConfig):
    """A pSp encoder run (``genfer train psp``) against a frozen, trained generator.

    ``generator`` is a ``genfer train stylegan2`` run folder (its ``final/`` when finished, else its latest
    checkpoint's ``g_ema``), a ``final/`` or a checkpoint, read when the run starts (later the run's own
    checkpoints hold it); its architecture must equal ``stylegan2``. The encoder predicts W+ offsets from the
    generator's average latent. ``optimizer`` ``ranger`` is RAdam + Lookahead (k=6, α=0.5), as pSp's Ranger
    without gradient centralisation.
    """

    method: ClassVar[str] = "psp"

    name: str = "psp"
    generator: str = "runs/stylegan2-paper/final"
    stylegan2: StyleGAN2Config = field(default_factory=StyleGAN2Config)
    encoder: PSpEncoderConfig = field(default_factory=PSpEncoderConfig)
    loss: InversionLossConfig = field(default_factory=InversionLossConfig)
    optimizer: str = "ranger"
    betas: tuple[float, float] = (0.95, 0.999)
    train_noise: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(bool(self.generator), "generator must name the trained StyleGAN2 (run folder or final/)")
        _check(self.encoder.input_size <= self.stylegan2.resolution,
               "encoder.input_size must not exceed the generator's resolution")
        _check(self.encoder.medium_end < self.stylegan2.n_latent,
               f"encoder.medium_end ({self.encoder.medium_end}) must be below the generator's "
               f"{self.stylegan2.n_latent} W+ entries")
        _check(self.optimizer in ("ranger", "adam"), f"optimizer must be 'ranger' or 'adam', not {self.optimizer!r}")


# ----------------------------------------------------------------------------- presets

TINY_ENCODER = PSpEncoderConfig(stage_channels=(8, 8, 12, 16), stage_blocks=(1, 1, 1, 1), se=True,
                                coarse_end=2, medium_end=4)

# IR-SE blocks (2, 3, 4, 2) of (64, 96, 128, 256) channels for 64 px input: pyramid levels at 16, 8 and 4 px.
# Until 2026-11-30 (the shipped psp-gray64 of the 500 kimg generator): (1, 2, 2, 1) blocks of (32, 48, 64, 128),
# whose validation SSIM had flattened at 0.52 (+0.007 per 1k steps at 9k); this one costs 1.6x per step
# (benchmarks/stylegan2_speed.py --method psp [--set encoder...], docs/inversion.md).
CPU_ENCODER = PSpEncoderConfig(stage_channels=(64, 96, 128, 256), stage_blocks=(2, 3, 4, 2), se=True,
                               coarse_end=3, medium_end=7)

PSP_PRESETS: dict[str, PSpTrainConfig] = {
    "tiny": PSpTrainConfig(
        name="psp-tiny", checkpoint_minutes=0.05, generator="runs/stylegan2-tiny/final", stylegan2=TINY_MODEL,
        encoder=TINY_ENCODER, loss=InversionLossConfig(weights=InversionLossWeights(id=0.0)), limit=48, holdout=8,
        batch_size=4, steps=6, optimizer="adam", lr=1e-3, grid_images=2, eval_every_steps=3, eval_images=4,
    ),
    # The generator is the cpu StyleGAN2 run folder: its final/ once finished, else its latest checkpoint.
    # 12k steps of 16 faces (192k images, about 1.5 h on 2 free cores). Loss weights balanced by magnitude: the
    # offline genfer-lpips is about 10x LPIPS's scale (at initialisation on 32 FER2013Valid faces: L2 0.33,
    # genfer-lpips 4.89, ID 0.21), so its weight is 0.1 instead of IFER's 1, keeping IFER's balance with L2.
    "cpu": PSpTrainConfig(
        name="psp-cpu", generator="runs/stylegan2-cpu", stylegan2=CPU_MODEL, encoder=CPU_ENCODER,
        loss=InversionLossConfig(weights=InversionLossWeights(lpips=0.1)),
        batch_size=16, steps=12_000, eval_every_steps=1000, eval_images=256,
    ),
    # pSp / IFER appendix: IR-SE-50, Ranger lr 1e-4, batch 8, 500k iterations, weights (0.8, 1, 0.1, 1e-4).
    "paper": PSpTrainConfig(name="psp-paper", generator="runs/stylegan2-paper/final", stylegan2=PAPER_MODEL),
    # pSp at 1024 px: the encoder sees 256 px inputs and the loss compares outputs pooled to 256 px.
    "paper_1024": PSpTrainConfig(name="psp-paper-1024", generator="runs/stylegan2-paper-1024/final",
                                 stylegan2=PAPER_1024_MODEL, encoder=PSpEncoderConfig(input_size=256)),
}

__all__ = [
    "CPU_ENCODER",
    "InversionLossConfig",
    "InversionLossWeights",
    "PERCEPTUAL_NETS",
    "PSP_PRESETS",
    "PSpEncoderConfig",
    "PSpTrainConfig",
    "StepRunConfig",
]
