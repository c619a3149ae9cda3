"""StyleGAN2 (``genfer train stylegan2``) and pSp inversion-encoder (``genfer train psp``) configs.

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

from genfer.config.base import _check
from genfer.config.recognizer import AugmentConfig
from genfer.config.vit import ImageSource

DEFAULT_SOURCES = (ImageSource("ferplus", "", "train"), ImageSource("csv", "faces128", ""))
"""FERPlus train (the FER2013 training faces) + ``faces128``: what the CPU generator learns from."""

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
class PooledRunConfig:
    """Fields every run on pooled unlabelled images shares: identity, runtime, sources and the held-out slice
    (the last ``holdout`` of the pooled images after a fixed shuffle; ``limit`` > 0 keeps only the first images)."""

    name: str = "run"
    seed: int = 0
    threads: int = 0
    checkpoint_minutes: float = 5.0
    keep_checkpoints: int = 2
    sources: tuple[ImageSource, ...] = DEFAULT_SOURCES
    limit: int = 0
    holdout: int = 1000

    def __post_init__(self) -> None:
        _check(len(self.sources) >= 1, "sources must name at least one dataset")
        _check(self.holdout >= 0 and self.limit >= 0, "holdout and limit must be >= 0")
        _check(self.checkpoint_minutes > 0, "checkpoint_minutes must be > 0")
        _check(self.keep_checkpoints >= 1, "keep_checkpoints must be >= 1")


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
    ``fid_images`` EMA samples with them every ``eval_every_kimg`` (0 images: no FID).

    ``init_from`` (a shipped name, model folder or run folder holding a generator of this architecture) warm-starts
    G and G_EMA from its EMA generator, and D from its discriminator when the folder keeps one; the first
    ``d_warmup_kimg`` thousand images then train D alone, so a new D learns the current G before G follows it.
    """

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

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.d_warmup_kimg >= 0, "d_warmup_kimg must be >= 0")
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


# ----------------------------------------------------------------------------- pSp


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
    """pSp's GradualStyleEncoder (:class:`genfer.models.inversion.GradualStyleEncoder`).

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
class PSpTrainConfig(PooledRunConfig):
    """A pSp encoder run (``genfer train psp``) against a frozen, trained generator.

    ``generator`` is a ``genfer train stylegan2`` run folder (its ``final/`` when finished, else its latest
    checkpoint's ``g_ema``), a ``final/`` or a checkpoint, read when the run starts (later the run's own
    checkpoints hold it); its architecture must equal ``stylegan2``. The encoder predicts W+ offsets from the
    generator's average latent. ``optimizer`` ``ranger`` is RAdam + Lookahead (k=6, α=0.5), as pSp's Ranger
    without gradient centralisation.
    """

    name: str = "psp"
    generator: str = "runs/stylegan2-paper/final"
    stylegan2: StyleGAN2Config = field(default_factory=StyleGAN2Config)
    encoder: PSpEncoderConfig = field(default_factory=PSpEncoderConfig)
    loss: InversionLossConfig = field(default_factory=InversionLossConfig)
    batch_size: int = 8
    steps: int = 500_000
    optimizer: str = "ranger"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.95, 0.999)
    train_noise: bool = True
    augment: AugmentConfig = field(default_factory=lambda: GAN_AUGMENT)
    grid_images: int = 8
    eval_every_steps: int = 5000
    eval_images: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(bool(self.generator), "generator must name the trained StyleGAN2 (run folder or final/)")
        _check(self.encoder.input_size <= self.stylegan2.resolution,
               "encoder.input_size must not exceed the generator's resolution")
        _check(self.encoder.medium_end < self.stylegan2.n_latent,
               f"encoder.medium_end ({self.encoder.medium_end}) must be below the generator's "
               f"{self.stylegan2.n_latent} W+ entries")
        _check(self.batch_size >= 1 and self.steps >= 1, "batch_size and steps must be >= 1")
        _check(self.optimizer in ("ranger", "adam"), f"optimizer must be 'ranger' or 'adam', not {self.optimizer!r}")
        _check(self.lr > 0, "lr must be > 0")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas must be two values in [0, 1)")
        _check(self.eval_every_steps >= 1, "eval_every_steps must be >= 1")
        _check(0 <= self.grid_images <= self.eval_images <= self.holdout,
               "need 0 <= grid_images <= eval_images <= holdout")


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
    # every 50 kimg show when the faces are good enough, and pSp can start from any checkpoint of the run.
    "cpu": StyleGAN2TrainConfig(
        name="stylegan2-cpu", model=CPU_MODEL, holdout=1000, batch_size=32, kimg=1500.0, r1_gamma=0.0256,
        pl_weight=0.0, ema_kimg=10.0, ema_rampup=0.05, grid_images=32, eval_every_kimg=50.0, fid_images=1000,
    ),
    # StyleGAN2 config-f (rosinality's train.py defaults: R1 γ 10, path length 2, mixing 0.9, batch 32).
    "paper": StyleGAN2TrainConfig(name="stylegan2-paper", model=PAPER_MODEL, kimg=25000.0),
    "paper_1024": StyleGAN2TrainConfig(name="stylegan2-paper-1024", model=PAPER_1024_MODEL, kimg=25000.0),
}

TINY_ENCODER = PSpEncoderConfig(stage_channels=(8, 8, 12, 16), stage_blocks=(1, 1, 1, 1), se=True,
                                coarse_end=2, medium_end=4)

# IR-SE blocks (1, 2, 2, 1) of (32, 48, 64, 128) channels for 64 px input: pyramid levels at 16, 8 and 4 px.
CPU_ENCODER = PSpEncoderConfig(stage_channels=(32, 48, 64, 128), stage_blocks=(1, 2, 2, 1), se=True,
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
    "CPU_MODEL",
    "DEFAULT_SOURCES",
    "GAN_AUGMENT",
    "InversionLossConfig",
    "InversionLossWeights",
    "PERCEPTUAL_NETS",
    "PSP_PRESETS",
    "PSpEncoderConfig",
    "PSpTrainConfig",
    "PooledRunConfig",
    "STYLEGAN2_PRESETS",
    "StyleGAN2Config",
    "StyleGAN2TrainConfig",
]
