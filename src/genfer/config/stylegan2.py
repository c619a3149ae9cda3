"""StyleGAN2 configs (``genfer train stylegan2``); the pSp encoder trained on its generators is in :mod:`.psp`.

Presets:
  ``tiny``        seconds-long runs for tests;
  ``cpu``         what trains here in the background: 64 px grayscale, a small channel table (see
                  ``benchmarks/stylegan2_speed.py`` for its measured speed);
  ``paper``       StyleGAN2 config-f at 256 px RGB (rosinality's defaults); ``paper_1024`` at 1024 px. Both
                  are shape-checked only here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from genfer.config.base import _check
from genfer.config.recognizer import AugmentConfig
from genfer.config.run import PooledRunConfig

GAN_AUGMENT = AugmentConfig(hflip=True, rotate_deg=0.0, scale=0.0, shift=0.0, brightness=0.0, contrast=0.0,
                            erase_prob=0.0)
"""Horizontal flips only (StyleGAN2's ``--mirror``)."""


def _is_power_of_two(n: int) -> bool:
    return n >= 8 and n & (n - 1) == 0


@dataclass(frozen=True)
class StyleGAN2Config:
    """A StyleGAN2 generator / discriminator pair (:func:`genfer.models.stylegan2.build_generator`).

    Channels per resolution are rosinality's table (``channel_multiplier``, 2 = config-f) divided by
    ``channel_divisor`` and capped at ``channel_max`` (0: no cap), unless ``channels`` lists them explicitly
    for 4, 8, …, ``resolution``. ``crop_template`` names the face framing of the training images
    (a :mod:`genfer.faces.align` template): ``genfer invert`` aligns photos to it.
    """

    resolution: int = 256
    img_channels: int = 3
    style_dim: int = 512
    n_mlp: int = 8
    lr_mlp: float = 0.01
    channel_multiplier: int = 2
    channel_divisor: int = 1
    channel_max: int = 0
    channels: tuple[int, ...] = ()
    crop_template: str = "fer2013"

    def __post_init__(self) -> None:
        _check(_is_power_of_two(self.resolution),
               f"model.resolution must be a power of two >= 8, not {self.resolution}")
        _check(self.img_channels in (1, 3), f"model.img_channels must be 1 or 3, not {self.img_channels}")
        _check(self.style_dim >= 1 and self.n_mlp >= 1, "model.style_dim and model.n_mlp must be >= 1")
        _check(self.lr_mlp > 0, "model.lr_mlp must be > 0")
        _check(self.channel_multiplier >= 1 and self.channel_divisor >= 1 and self.channel_max >= 0,
               "model.channel_multiplier and channel_divisor must be >= 1, channel_max >= 0")
        n = int(math.log2(self.resolution)) - 1
        _check(not self.channels or (len(self.channels) == n and all(c >= 1 for c in self.channels)),
               f"model.channels must list {n} positive counts (for 4 ... {self.resolution} px) or be empty")
        _check(bool(self.crop_template), "model.crop_template must name a crop template")

    @property
    def n_latent(self) -> int:
        """Number of W+ entries, ``2·log2(resolution) − 2``."""
        return 2 * int(math.log2(self.resolution)) - 2


@dataclass(frozen=True)
class StyleGAN2TrainConfig(PooledRunConfig):
    """A StyleGAN2 training run (``genfer train stylegan2``).

    Length and intervals are counted in thousands of real images shown to D (kimg), as StyleGAN2 does.
    Adam's ``lr`` and ``betas`` are the nominal values; with lazy regularisation every ``d_reg_every`` (R1)
    and ``g_reg_every`` (path length, when ``pl_weight`` > 0) steps they are corrected by
    ``ratio = every / (every + 1)`` (``lr·ratio``, ``betas**ratio``). The generator EMA has a half-life of
    ``ema_kimg`` thousand images (``β = 0.5 ** (batch / (ema_kimg·1000))``, rosinality's ``accumulate`` at
    batch 32); ``ema_rampup`` > 0 shortens it early in training (StyleGAN2-ADA). The last ``holdout``
    pooled images are kept out of training; FID (``genfer-fer:<fid_model>`` features) compares
    ``fid_images`` EMA samples with them every ``eval_every_kimg`` (0 images: no FID). With FID on, the run
    folder's ``best/`` holds the model (G_EMA and D) of the best FID so far; ``plateau_kimg`` > 0 ends the run
    when FID has not improved for that many kimg, and then (and whenever it is set) ``final/`` is that best
    snapshot rather than the last weights; ``target_fid`` > 0 ends it at the first evaluation whose FID is at or
    below that value (``final/`` = that snapshot). Both are stopping rules: they may be changed when a run resumes.

    ``init_from`` (a shipped name, model folder or run folder holding a generator of this architecture) warm-starts
    G and G_EMA from its EMA generator, and D from its discriminator when the folder keeps one; the first
    ``d_warmup_kimg`` thousand images then train D alone, so a new D learns the current G before G follows it.
    """

    method: ClassVar[str] = "stylegan2"

    name: str = "stylegan2"
    model: StyleGAN2Config = field(default_factory=StyleGAN2Config)
    batch_size: int = 32
    kimg: float = 25000.0
    lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 10.0
    d_reg_every: int = 16
    pl_weight: float = 2.0
    g_reg_every: int = 4
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    mixing_prob: float = 0.9
    ema_kimg: float = 10.0
    ema_rampup: float = 0.0
    augment: AugmentConfig = field(default_factory=lambda: GAN_AUGMENT)
    grid_images: int = 32
    eval_every_kimg: float = 50.0
    fid_images: int = 1000
    fid_model: str = "fer-resnet18s-48"
    init_from: str = ""
    d_warmup_kimg: float = 0.0
    plateau_kimg: float = 0.0
    target_fid: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.d_warmup_kimg >= 0, "d_warmup_kimg must be >= 0")
        _check(self.plateau_kimg >= 0, "plateau_kimg must be >= 0")
        _check(self.plateau_kimg == 0 or self.fid_images > 0, "plateau_kimg needs FID (fid_images > 0)")
        _check(self.target_fid >= 0, "target_fid must be >= 0")
        _check(self.target_fid == 0 or self.fid_images > 0, "target_fid needs FID (fid_images > 0)")
        _check(self.batch_size >= 2, f"batch_size must be >= 2, not {self.batch_size}")
        _check(self.kimg > 0, "kimg must be > 0")
        _check(self.lr > 0, "lr must be > 0")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas must be two values in [0, 1)")
        _check(self.r1_gamma >= 0 and self.pl_weight >= 0, "r1_gamma and pl_weight must be >= 0")
        _check(self.d_reg_every >= 1 and self.g_reg_every >= 1, "d_reg_every and g_reg_every must be >= 1")
        _check(1 <= self.pl_batch_shrink <= self.batch_size, "pl_batch_shrink must be in [1, batch_size]")
        _check(0 <= self.pl_decay <= 1, "pl_decay must be in [0, 1]")
        _check(0 <= self.mixing_prob <= 1, "mixing_prob must be in [0, 1]")
        _check(self.ema_kimg > 0 and self.ema_rampup >= 0, "ema_kimg must be > 0 and ema_rampup >= 0")
        _check(self.grid_images >= 0, "grid_images must be >= 0")
        _check(self.eval_every_kimg > 0, "eval_every_kimg must be > 0")
        _check(0 <= self.fid_images, "fid_images must be >= 0")
        _check(self.fid_images <= self.holdout, f"fid_images ({self.fid_images}) must be <= holdout ({self.holdout}): "
                                                "FID compares samples with the held-out images")

    @property
    def total_steps(self) -> int:
        """Optimisation steps of the whole run: ``ceil(kimg·1000 / batch_size)``."""
        return max(1, math.ceil(self.kimg * 1000 / self.batch_size))

    def every_steps(self, kimg: float) -> int:
        """Steps in ``kimg`` thousand images (at least 1)."""
        return max(1, round(kimg * 1000 / self.batch_size))


# ----------------------------------------------------------------------------- presets

TINY_MODEL = StyleGAN2Config(resolution=16, img_channels=1, style_dim=16, n_mlp=2, channels=(16, 12, 8))

# 64 px grayscale, 4 … 64 px: 128, 128, 64, 32, 16 channels, 128-d styles, a 2-layer mapping network
# (StyleGAN2-ADA's "auto" config for small data); measured with benchmarks/stylegan2_speed.py.
CPU_MODEL = StyleGAN2Config(resolution=64, img_channels=1, style_dim=128, n_mlp=2, channels=(128, 128, 64, 32, 16))

PAPER_MODEL = StyleGAN2Config(resolution=256, img_channels=3, style_dim=512, n_mlp=8, channel_multiplier=2)
PAPER_1024_MODEL = StyleGAN2Config(resolution=1024, img_channels=3, style_dim=512, n_mlp=8, channel_multiplier=2)

STYLEGAN2_PRESETS: dict[str, StyleGAN2TrainConfig] = {
    # 48 pooled images, 8 held out, batch 8: 5 steps per epoch; R1 and path length every 2 steps.
    "tiny": StyleGAN2TrainConfig(
        name="stylegan2-tiny", checkpoint_minutes=0.05, model=TINY_MODEL, limit=48, holdout=8, batch_size=8,
        kimg=0.064, r1_gamma=1.0, d_reg_every=2, g_reg_every=2, pl_weight=2.0, ema_kimg=0.05, ema_rampup=0.05,
        grid_images=4, eval_every_kimg=0.032, fid_images=0,
    ),
    # R1 γ from StyleGAN2-ADA's heuristic 0.0002·res²/batch; path length off (cost); EMA ramp-up as ADA's auto.
    # 1500 kimg: 10-17 h at the 25-45 img/s measured on one core (benchmarks/stylegan2_speed.py); grids and FID
    # every 50 kimg show when the faces are good enough, and pSp can start from any checkpoint of the run. The run
    # ends earlier when FID has not improved for 200 kimg; final/ is then the best-FID snapshot.
    "cpu": StyleGAN2TrainConfig(
        name="stylegan2-cpu", model=CPU_MODEL, holdout=1000, batch_size=32, kimg=1500.0, r1_gamma=0.0256,
        pl_weight=0.0, ema_kimg=10.0, ema_rampup=0.05, grid_images=32, eval_every_kimg=50.0, fid_images=1000,
        plateau_kimg=200.0,
    ),
    # StyleGAN2 config-f (rosinality's train.py defaults: R1 γ 10, path length 2, mixing 0.9, batch 32).
    "paper": StyleGAN2TrainConfig(name="stylegan2-paper", model=PAPER_MODEL, kimg=25000.0),
    "paper_1024": StyleGAN2TrainConfig(name="stylegan2-paper-1024", model=PAPER_1024_MODEL, kimg=25000.0),
}

__all__ = [
    "CPU_MODEL",
    "GAN_AUGMENT",
    "PAPER_1024_MODEL",
    "PAPER_MODEL",
    "STYLEGAN2_PRESETS",
    "StyleGAN2Config",
    "StyleGAN2TrainConfig",
    "TINY_MODEL",
]
