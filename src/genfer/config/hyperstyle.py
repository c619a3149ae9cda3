"""HyperStyle configs (``genfer train hyperstyle``; Alaluf et al., 2022): a hypernetwork that predicts per-image
offsets of a frozen generator's convolution weights, refined over a few iterations from a frozen pSp inversion.

Presets (``HYPERSTYLE_PRESETS``): ``tiny`` for tests, ``cpu`` (against the shipped ``psp-gray64``), ``paper``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from genfer.config.base import _check
from genfer.config.psp import (CPU_ENCODER, TINY_ENCODER, InversionLossConfig, InversionLossWeights, PSpEncoderConfig,
                               StepRunConfig)
from genfer.config.stylegan2 import CPU_MODEL, PAPER_MODEL, TINY_MODEL, StyleGAN2Config, _is_power_of_two


@dataclass(frozen=True)
class HyperNetConfig:
    """The hypernetwork (:class:`genfer.models.hyperstyle.WeightOffsetNet`).

    An IR-SE backbone (pSp's blocks: a stride-1 stem, four stride-2 stages of ``stage_blocks`` blocks of
    ``stage_channels``) reads the target and the current reconstruction side by side (2·C channels) down to
    1/16 of the side (HyperStyle: ResNet-34 to 16×16 at 256 px). One refinement head per tuned layer (3×3 conv to
    ``head_channels``, leaky ReLU, global average, a linear map initialised to zero) predicts that layer's
    per-channel offsets Δ (out, in), applied as ``θ·(1 + Δ)`` over the k×k taps. Tuned layers are the
    non-toRGB convolutions at ``min_resolution`` px and above (HyperStyle: medium and fine layers only).
    ``iterations``: refinement steps, each adding to the offsets (HyperStyle: 5 in training, 5 at inference).
    """

    stage_channels: tuple[int, ...] = (64, 128, 256, 512)
    stage_blocks: tuple[int, ...] = (3, 4, 6, 3)
    head_channels: int = 512
    min_resolution: int = 16
    iterations: int = 5

    def __post_init__(self) -> None:
        _check(len(self.stage_channels) == 4 and len(self.stage_blocks) == 4,
               "hypernet.stage_channels and hypernet.stage_blocks need 4 entries")
        _check(all(c >= 1 for c in self.stage_channels) and all(b >= 1 for b in self.stage_blocks),
               "hypernet stage channels and blocks must be >= 1")
        _check(self.head_channels >= 1, "hypernet.head_channels must be >= 1")
        _check(_is_power_of_two(self.min_resolution) or self.min_resolution == 4,
               f"hypernet.min_resolution must be a power of two >= 4, not {self.min_resolution}")
        _check(self.iterations >= 1, "hypernet.iterations must be >= 1")


@dataclass(frozen=True)
class HyperStyleTrainConfig(StepRunConfig):
    """A HyperStyle run (``genfer train hyperstyle``) over a frozen pSp model (encoder + generator).

    ``inverter`` names the pSp model whose W+ codes are the initial inversion (a shipped name, ``final/`` or run
    folder), read when the run starts (later the run's checkpoints hold it); its architecture must equal
    ``stylegan2`` and ``encoder``. The loss (pSp's Eq. 5 without its latent term, which has nothing to act on)
    is averaged over the refinement iterations; each iteration starts from the previous one's detached offsets
    and image (ReStyle's scheme).
    """

    method: ClassVar[str] = "hyperstyle"

    name: str = "hyperstyle"
    inverter: str = "psp-gray64"
    stylegan2: StyleGAN2Config = field(default_factory=lambda: CPU_MODEL)
    encoder: PSpEncoderConfig = field(default_factory=lambda: CPU_ENCODER)
    hypernet: HyperNetConfig = field(default_factory=HyperNetConfig)
    loss: InversionLossConfig = field(default_factory=lambda: InversionLossConfig(
        weights=InversionLossWeights(lpips=0.1, w_reg=0.0)))

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(bool(self.inverter), "inverter must name the trained pSp model (shipped name or folder)")
        _check(self.hypernet.min_resolution <= self.stylegan2.resolution,
               "hypernet.min_resolution must not exceed the generator's resolution")


TINY_HYPERNET = HyperNetConfig(stage_channels=(8, 8, 12, 16), stage_blocks=(1, 1, 1, 1), head_channels=8,
                               min_resolution=8, iterations=2)
# 64 px gray: IR-SE (1, 1, 2, 1) blocks of (32, 48, 64, 128) to a 4x4 map; 64-wide heads on the 16-64 px convs
# (8 layers, about 1.0 M head parameters); 3 iterations (each one a generator pass: the CPU cost per step).
CPU_HYPERNET = HyperNetConfig(stage_channels=(32, 48, 64, 128), stage_blocks=(1, 1, 2, 1), head_channels=64,
                              min_resolution=16, iterations=3)

HYPERSTYLE_PRESETS: dict[str, HyperStyleTrainConfig] = {
    "tiny": HyperStyleTrainConfig(
        name="hyperstyle-tiny", checkpoint_minutes=0.05, inverter="runs/psp-tiny/final", stylegan2=TINY_MODEL,
        encoder=TINY_ENCODER, hypernet=TINY_HYPERNET,
        loss=InversionLossConfig(weights=InversionLossWeights(lpips=0.0, id=0.0, w_reg=0.0)), limit=48, holdout=8,
        batch_size=4, steps=4, lr=1e-3, grid_images=2, eval_every_steps=2, eval_images=4,
    ),
    # 3k steps of 16 faces (48k images, 3 iterations each); against the shipped psp-gray64 (encoder + generator).
    # About 3 s of CPU per step measured over 4 steps on the loaded machine: roughly 2.5 CPU-hours.
    "cpu": HyperStyleTrainConfig(
        name="hyperstyle-cpu", inverter="psp-gray64", stylegan2=CPU_MODEL, encoder=CPU_ENCODER,
        hypernet=CPU_HYPERNET, batch_size=16, steps=3000, eval_every_steps=500, eval_images=256,
    ),
    # HyperStyle: ResNet-34 backbone, 5 iterations, Ranger lr 1e-4, batch 8, weights L2 1, LPIPS 0.8, ID 0.1.
    "paper": HyperStyleTrainConfig(
        name="hyperstyle-paper", inverter="runs/psp-paper/final", stylegan2=PAPER_MODEL,
        encoder=PSpEncoderConfig(), hypernet=HyperNetConfig(),
        loss=InversionLossConfig(weights=InversionLossWeights(l2=1.0, lpips=0.8, id=0.1, w_reg=0.0)),
    ),
}

__all__ = ["CPU_HYPERNET", "HYPERSTYLE_PRESETS", "HyperNetConfig", "HyperStyleTrainConfig"]
