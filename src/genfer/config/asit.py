"""ASIT and IFER configs (``genfer train asit``, ``genfer train ifer``; Mao et al., "More comprehensive facial
inversion for more effective expression recognition").

ASIT: a GC ViT inversion encoder with a window-attention branch per W+ entry and a structure code replacing the
frozen generator's constant input, trained with pSp's loss (IFER's appendix weights), the image inversion
discriminator (IID) and the distribution alignment loss (DAL). IFER: the (fine-tuned) inversion encoder, a feature
modulation module and a classifier trained on labelled faces.

Presets: ``ASIT_PRESETS`` / ``IFER_PRESETS`` (``tiny`` for tests, ``cpu``, ``paper``); the Table-4 and Table-5
ablations are overrides of these (``ASIT_ABLATIONS``, ``IFER_ABLATIONS``; see docs/asit-ifer.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from genfer.config.base import _check
from genfer.config.psp import (
    CPU_ENCODER,
    InversionLossConfig,
    InversionLossWeights,
    PSpEncoderConfig,
    PSpTrainConfig,
)
from genfer.config.recognizer import AugmentConfig, DataConfig
from genfer.config.run import RunConfig
from genfer.config.stylegan2 import CPU_MODEL, PAPER_MODEL, StyleGAN2Config

BRANCHES = ("window", "conv")
"""W+ branches: ASIT's window-attention branch (Fig. 4) or pSp's convolutional map2style (Table 4's ablation)."""

ADVERSARIES = ("iid", "stylegan2", "none")
"""The encoder's adversary: the image inversion discriminator, the plain StyleGAN2 discriminator (Table 4's "S"),
or none."""

FUSIONS = ("modulation", "latent", "structure")
"""IFER's fusion (Table 5b): the feature modulation module, only the latent codes, only the structure code."""

FER_MAPS = ("structure", "middle")
"""What IFER's modulated convolution is applied to (Table 5a): the structure code or a middle-layer feature map."""


@dataclass(frozen=True)
class GCViTConfig:
    """timm's GC ViT backbone (:class:`timm.models.gcvit.GlobalContextVit`, stem /4, stage i at /2^(i+2)).

    ``window_sizes`` has one window side per stage and must divide that stage's feature side; ``embed_dim`` is
    stage 0's width (stage i has ``embed_dim · 2^i`` channels). At least 3 stages: the last three are the
    fine, medium and coarse pyramid levels.
    """

    embed_dim: int = 64
    depths: tuple[int, ...] = (3, 4, 19, 5)
    num_heads: tuple[int, ...] = (2, 4, 8, 16)
    window_sizes: tuple[int, ...] = (8, 8, 8, 8)
    mlp_ratio: float = 3.0
    drop_path_rate: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.depths)
        _check(n >= 3, "encoder.backbone.depths needs at least 3 stages (the pyramid uses the last three)")
        _check(len(self.num_heads) == n and len(self.window_sizes) == n,
               "encoder.backbone: depths, num_heads and window_sizes need one entry per stage")
        _check(all(d >= 1 for d in self.depths) and all(w >= 1 for w in self.window_sizes),
               "encoder.backbone depths and window sizes must be >= 1")
        for i, h in enumerate(self.num_heads):
            _check(h >= 1 and (self.embed_dim * 2**i) % h == 0,
                   f"encoder.backbone stage {i}: width {self.embed_dim * 2**i} not divisible by {h} heads")


@dataclass(frozen=True)
class ASITEncoderConfig:
    """ASIT's encoder (:class:`genfer.models.asit.ASITEncoder`).

    ``pyramid_dim``: width of the top-down pyramid (pSp's lateral 1×1 convolutions) and of every branch.
    ``branch``: ``window`` (Fig. 4: window attention then 2× max pooling, repeated until the map equals the window,
    then one attention over the whole map) or ``conv`` (pSp's map2style). ``branch_windows``: window sides the
    branches of one level cycle through ("a different window size for each branch"; clipped to the level's side).
    ``branch_heads``: heads of the branch attention. W+ entries ``[0, coarse_end)`` read the coarse level,
    ``[coarse_end, medium_end)`` the medium one, the rest the fine one (pSp's split).
    """

    input_size: int = 0
    backbone: GCViTConfig = field(default_factory=GCViTConfig)
    pyramid_dim: int = 256
    branch: str = "window"
    branch_windows: tuple[int, ...] = (2, 4, 8)
    branch_heads: int = 4
    coarse_end: int = 3
    medium_end: int = 7

    def __post_init__(self) -> None:
        _check(self.branch in BRANCHES, f"encoder.branch must be one of {', '.join(BRANCHES)}, not {self.branch!r}")
        _check(len(self.branch_windows) >= 1 and all(w >= 1 for w in self.branch_windows),
               "encoder.branch_windows needs window sides >= 1")
        _check(self.branch_heads >= 1 and self.pyramid_dim % self.branch_heads == 0,
               "encoder.pyramid_dim must be divisible by encoder.branch_heads")
        _check(1 <= self.coarse_end < self.medium_end, "encoder needs 1 <= coarse_end < medium_end")


@dataclass(frozen=True)
class IIDConfig:
    """The encoder's adversary (Eqs. 1 and 3).

    ``kind``: ``iid`` (siamese m_q / m_k = the StyleGAN2 discriminator's feature layers, cosine output, least
    squares with a = 1, b = −1), ``stylegan2`` (the whole StyleGAN2 discriminator judging y alone, logistic loss)
    or ``none``. Both discriminators start from the generator folder's kept ``discriminator.safetensors``; a
    folder without one gives a freshly initialised StyleGAN2 discriminator (seeded by the run's seed, logged).
    ``momentum``: a of θ_k = a·θ_k + (1 − a)·θ_q. The unbalanced augmentation φ: m_q's input (the judged image) gets
    a random flip, an integer shift of up to ``shift``·side, a brightness offset of up to ``brightness`` and a
    contrast factor within 1 ± ``contrast``; m_k's input (the reference x) only a random flip.
    """

    kind: str = "iid"
    momentum: float = 0.999
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    shift: float = 0.125
    brightness: float = 0.2
    contrast: float = 0.2

    def __post_init__(self) -> None:
        _check(self.kind in ADVERSARIES, f"adversary.kind must be one of {', '.join(ADVERSARIES)}, not {self.kind!r}")
        _check(0 <= self.momentum < 1, "adversary.momentum must be in [0, 1)")
        _check(self.lr > 0, "adversary.lr must be > 0")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "adversary.betas: two values in [0, 1)")
        _check(0 <= self.shift < 0.5 and self.brightness >= 0 and 0 <= self.contrast < 1,
               "adversary: shift in [0, 0.5), brightness >= 0, contrast in [0, 1)")


@dataclass(frozen=True)
class DALConfig:
    """Distribution alignment (Eq. 4): encoder backbone stages paired with the generator's feature maps of the same
    side. ``sides``: the sides to align (empty: every side both have). ``normalize``: L2-normalise each image's
    flattened features before the dot product (a cosine; the raw dot products of wide maps saturate the softmax).
    """

    sides: tuple[int, ...] = ()
    normalize: bool = True


@dataclass(frozen=True)
class ASITTrainConfig(PSpTrainConfig):
    """An ASIT run (``genfer train asit``) against a frozen, trained generator (a StyleGAN2 model/run folder or a
    shipped pSp/ASIT model's generator): :class:`~genfer.config.PSpTrainConfig`'s fields, ASIT's encoder, the
    adversary and DAL.

    Total loss: ``loss.weights`` (0.8·L2 + LPIPS + 0.1·ID + 1e-4·L_reg) + ``adv_weight``·L_adv + ``dal_weight``·L_alig.
    ``init_from``: an ASIT model/run folder whose encoder starts this run (IFER's fine-tuning on FER faces).
    """

    method: ClassVar[str] = "asit"

    name: str = "asit"
    init_from: str = ""
    encoder: ASITEncoderConfig = field(default_factory=ASITEncoderConfig)  # type: ignore[assignment]
    adversary: IIDConfig = field(default_factory=IIDConfig)
    dal: DALConfig = field(default_factory=DALConfig)
    adv_weight: float = 1e-3
    dal_weight: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.adv_weight >= 0 and self.dal_weight >= 0, "adv_weight and dal_weight must be >= 0")
        _check(self.dal_weight == 0 or self.batch_size >= 3,
               "DAL compares each image with the others of its batch: batch_size must be >= 3 (or dal_weight=0)")


@dataclass(frozen=True)
class IFERModelConfig:
    """IFER's head on an inversion encoder (:class:`genfer.models.ifer.FeatureModulationHead`, Fig. 7).

    One MLP (``mlp_layers`` layers of width ``mlp_dim``) per W+ entry maps its latent code (an offset from the
    average latent); the outputs are summed; the modulated convolution's affine transform A turns the sum into the
    style of a (de)modulated 3×3 convolution with ``conv_channels`` outputs applied to ``fer_map`` (the structure
    code, or the encoder's medium-level map pooled to 4×4); then bias + leaky ReLU, global average pooling, dropout
    and a linear classifier over ``num_classes``. ``fusion`` selects Table 5b's rows.
    """

    num_classes: int = 8
    fusion: str = "modulation"
    fer_map: str = "structure"
    mlp_dim: int = 256
    mlp_layers: int = 2
    conv_channels: int = 256
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _check(self.num_classes >= 2, "model.num_classes must be >= 2")
        _check(self.fusion in FUSIONS, f"model.fusion must be one of {', '.join(FUSIONS)}, not {self.fusion!r}")
        _check(self.fer_map in FER_MAPS, f"model.fer_map must be one of {', '.join(FER_MAPS)}, not {self.fer_map!r}")
        _check(self.mlp_dim >= 1 and self.mlp_layers >= 1 and self.conv_channels >= 1,
               "model.mlp_dim, mlp_layers and conv_channels must be >= 1")
        _check(0 <= self.dropout < 1, "model.dropout must be in [0, 1)")


@dataclass(frozen=True)
class IFERTrainConfig(RunConfig):
    """An IFER run (``genfer train ifer``): an inversion model's encoder plus the head, trained on labelled faces.

    ``inversion``: an ASIT or pSp model/run folder (or shipped name) whose encoder, with ``pretrained`` (Table 5c),
    starts the run (the ASIT fine-tuned on FER faces; pSp for "pSp+FER"). Its architecture is this config's
    ``encoder`` (``asit``: the ``asit`` section, ``psp``: the ``psp`` section) for the ``stylegan2`` generator, so a
    model folder is self-contained; the run checks they match the inversion model's. AdamW at ``lr`` (the appendix:
    1e-3) on the head; the encoder is fine-tuned at ``lr · encoder_lr_scale`` (0 freezes it). Faces are seen at
    the encoder's input size and the generator's channels.
    """

    method: ClassVar[str] = "ifer"

    name: str = "ifer"
    inversion: str = "runs/asit-paper/final"
    pretrained: bool = True
    encoder: str = "asit"
    stylegan2: StyleGAN2Config = field(default_factory=lambda: PAPER_MODEL)
    asit: ASITEncoderConfig = field(default_factory=ASITEncoderConfig)
    psp: PSpEncoderConfig = field(default_factory=PSpEncoderConfig)
    model: IFERModelConfig = field(default_factory=IFERModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    batch_size: int = 64
    steps: int = 320
    lr: float = 1e-3
    encoder_lr_scale: float = 0.1
    weight_decay: float = 0.05
    label_smoothing: float = 0.0
    eval_every_steps: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(bool(self.inversion) or not self.pretrained, "inversion must name the ASIT or pSp model to start from")
        _check(self.encoder in ("asit", "psp"), f"encoder must be 'asit' or 'psp', not {self.encoder!r}")
        _check(self.batch_size >= 1 and self.steps >= 1, "batch_size and steps must be >= 1")
        _check(self.lr > 0 and self.encoder_lr_scale >= 0 and self.weight_decay >= 0,
               "lr must be > 0, encoder_lr_scale and weight_decay >= 0")
        _check(0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)")
        _check(self.eval_every_steps >= 1, "eval_every_steps must be >= 1")


# ----------------------------------------------------------------------------- presets

# a 32 px generator for tests: GC ViT's stem divides by 4, so a 16 px input leaves too little for three stages
TINY_ASIT_MODEL = StyleGAN2Config(resolution=32, img_channels=1, style_dim=16, n_mlp=2, channels=(16, 12, 8, 8))
TINY_ASIT_ENCODER = ASITEncoderConfig(
    backbone=GCViTConfig(embed_dim=8, depths=(1, 1, 1), num_heads=(1, 1, 2), window_sizes=(4, 2, 2), mlp_ratio=2.0),
    pyramid_dim=8, branch_windows=(2, 4), branch_heads=2, coarse_end=2, medium_end=5)

# 64 px grayscale: stages at 16, 8 and 4 px (32, 64, 128 channels), windows 4, 4, 4 (stage 2 is one window:
# global); branches of width 64 with windows 2 and 4. Measured in docs/asit-ifer.md.
CPU_ASIT_ENCODER = ASITEncoderConfig(
    backbone=GCViTConfig(embed_dim=32, depths=(2, 2, 2), num_heads=(1, 2, 4), window_sizes=(4, 4, 4)),
    pyramid_dim=64, branch_windows=(2, 4), branch_heads=2, coarse_end=3, medium_end=7)

# GC ViT-T (timm's gcvit_tiny: 3, 4, 19, 5 blocks, 64 … 512 channels) at 256 px (stages at 64, 32, 16, 8 px) with
# 8 px windows, as pSp's 256 px setting; branch windows 2, 4, 8.
PAPER_ASIT_ENCODER = ASITEncoderConfig()

# the loss weights of the pSp cpu preset (genfer-lpips is ~10x LPIPS's scale, so 0.1 instead of 1)
CPU_LOSS = InversionLossConfig(weights=InversionLossWeights(lpips=0.1))

ASIT_PRESETS: dict[str, ASITTrainConfig] = {
    "tiny": ASITTrainConfig(
        name="asit-tiny", checkpoint_minutes=0.05, generator="runs/stylegan2-tiny/final", stylegan2=TINY_ASIT_MODEL,
        encoder=TINY_ASIT_ENCODER, loss=InversionLossConfig(weights=InversionLossWeights(id=0.0)), limit=48,
        holdout=8, batch_size=4, steps=6, optimizer="adam", lr=1e-3, adversary=IIDConfig(momentum=0.9, lr=1e-3),
        grid_images=2, eval_every_steps=3, eval_images=4,
    ),
    # the shipped psp-gray64's generator today; the final generator (with its kept discriminator) once trained.
    # The same budget as the pSp cpu preset (batch 16, 12k steps). DAL's weight by measured magnitude
    # (benchmarks/asit_loss_scale.py, 32 FER2013Valid faces, batches of 16, at initialisation): DAL 0.053 over its
    # three layer pairs against 0.1·ID 0.022, 0.8·L2 0.33, 0.1·genfer-lpips 0.44; 0.5·DAL = 0.027 weighs it like
    # the identity term, the other auxiliary prior (docs/asit-ifer.md).
    "cpu": ASITTrainConfig(
        name="asit-cpu", generator="psp-gray64", stylegan2=CPU_MODEL, encoder=CPU_ASIT_ENCODER, loss=CPU_LOSS,
        dal_weight=0.5, adversary=IIDConfig(momentum=0.99), batch_size=16, steps=12_000, eval_every_steps=1000,
        eval_images=256,
    ),
    # IFER appendix: Ranger lr 1e-4, batch 8, 500k iterations, weights (0.8, 1, 0.1, 1e-4), adversarial 1e-3;
    # DAL 0.5 as measured for the cpu preset (re-measure on the 256 px generator with asit_loss_scale.py --preset paper).
    "paper": ASITTrainConfig(name="asit-paper", generator="runs/stylegan2-paper/final", stylegan2=PAPER_MODEL,
                             encoder=PAPER_ASIT_ENCODER),
}

ASIT_ABLATIONS: dict[str, tuple[str, ...]] = {
    "no-dal": ("dal_weight=0",),
    "conv-branch": ("encoder.branch=conv",),
    "stylegan2-d": ("adversary.kind=stylegan2",),
}
"""Table 4's rows as ``--set`` overrides of a preset (the full model is the preset itself)."""

IFER_PRESETS: dict[str, IFERTrainConfig] = {
    "tiny": IFERTrainConfig(
        name="ifer-tiny", checkpoint_minutes=0.05, inversion="runs/asit-tiny/final", stylegan2=TINY_ASIT_MODEL,
        asit=TINY_ASIT_ENCODER,
        model=IFERModelConfig(mlp_dim=8, conv_channels=8),
        data=DataConfig(target="label", limit_train=32, limit_val=8), batch_size=8, steps=4, eval_every_steps=2,
    ),
    # FERPlus majority labels (8 classes) at 64 px grayscale on the cpu ASIT fine-tuned on FERPlus train; 2000 steps
    # of 32 faces (about 2.3 epochs; the encoder's forward + backward took 1.45 s per 16 faces on one idle thread).
    "cpu": IFERTrainConfig(
        name="ifer-cpu", inversion="runs/asit-cpu-fer/final", stylegan2=CPU_MODEL, asit=CPU_ASIT_ENCODER,
        psp=CPU_ENCODER, model=IFERModelConfig(mlp_dim=128, conv_channels=128),
        data=DataConfig(target="label"), batch_size=32, steps=2_000, eval_every_steps=500,
    ),
    # appendix: AdamW lr 1e-3, 320 iterations of batch 64, on the ASIT fine-tuned for 20k iterations on FER faces.
    "paper": IFERTrainConfig(name="ifer-paper", inversion="runs/asit-paper-fer/final"),
}

IFER_ABLATIONS: dict[str, tuple[str, ...]] = {
    "psp-fer": ("encoder=psp", "inversion=psp-gray64"),
    "middle-map": ("model.fer_map=middle",),
    "latent-only": ("model.fusion=latent",),
    "structure-only": ("model.fusion=structure",),
    "no-pretraining": ("pretrained=false",),
}
"""Table 5's rows (a: the map modulated, b: the fusion, c: inversion pretraining) and Table 3's pSp+FER as ``--set``
overrides."""

__all__ = [
    "ADVERSARIES",
    "ASIT_ABLATIONS",
    "ASIT_PRESETS",
    "BRANCHES",
    "FER_MAPS",
    "FUSIONS",
    "IFER_ABLATIONS",
    "IFER_PRESETS",
    "TINY_ASIT_MODEL",
    "ASITEncoderConfig",
    "ASITTrainConfig",
    "DALConfig",
    "GCViTConfig",
    "IFERModelConfig",
    "IFERTrainConfig",
    "IIDConfig",
]
