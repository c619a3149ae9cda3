"""Switch-unit GAN configs (``genfer train switchgan``): joint expression synthesis and recognition.

Zhang, Zhang & Xu, "Joint Expression Synthesis and Representation Learning for Facial Expression
Recognition" (TCSVT 2021). The networks are :mod:`genfer.models.switchgan`, the losses
:mod:`genfer.losses.switchgan`, the trainer :mod:`genfer.train.switchgan`.

Table VII's ablations and Fig. 12's 0N..6N are fields of :class:`SwitchGANTrainConfig`;
:data:`SWITCHGAN_ABLATIONS` names the override sets of each row (``--set`` syntax).

Presets (``SWITCHGAN_PRESETS``):
  ``tiny``   seconds-long runs for tests (32 px grayscale, 8 classes to match the synthetic test sets);
  ``cpu``    48 px grayscale FERPlus images with FER2013's original 7-class labels, sized to train on
             2 CPU cores in the background in a session or two (resumable);
  ``paper``  the published setting: 256 px RGB, Table I widths, VGG-19 with FC-4096 layers, 6N.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import ClassVar

from genfer.config.base import _check
from genfer.config.recognizer import AugmentConfig, DataConfig, OptimConfig, check_float32_only
from genfer.config.run import RunConfig

CROP_TEMPLATES = ("fer2013", "gen")
"""Crop templates of :mod:`genfer.faces.align` a model can be trained on (``genfer transfer`` aligns to it)."""

LOSS_REDUCTIONS = ("mean", "sum")
LR_SCHEDULES = ("constant", "cosine")
PERCEPTUAL_PAIRINGS = ("paper", "source")
PERCEPTUAL_FEATURES = ("pooled", "maps")
TV_TARGETS = ("residual", "output")


@dataclass(frozen=True)
class SwitchGANLossWeights:
    """Weights of Eq. 12: ``L = L_adv + L_inter + L_C + λ1 L_r + λ2 L_per + λ3 L_p + λ4 TV``.

    adv, inter, cls: 1 in the paper; rec = λ1 = 10, per = λ2 = 15, pix = λ3 = 5, tv = λ4 = 5.
    A weight of 0 drops its term. ``cls`` weighs L_C in the generator's objective only; C itself always
    descends the plain L_C.
    """

    adv: float = 1.0
    inter: float = 1.0
    cls: float = 1.0
    rec: float = 10.0
    per: float = 15.0
    pix: float = 5.0
    tv: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            _check(isinstance(v, (int, float)) and v >= 0 and v == v,
                   f"loss weight {f.name} must be a finite number >= 0, not {v!r}")

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class SwitchGANModelConfig:
    """Sizes of G = G_enc -> switch unit -> G_dec, D_1/D_2 and C (paper Table I; defaults = the paper).

    * ``encoder_channels``: G_enc's five stride-2 conv widths (the last is C, the width of R, split into
      ``num_classes`` blocks; ``allow_uneven_blocks`` splits a width that ``num_classes`` does not divide,
      ELEGANT's way, as the paper's 512 channels over 7 expressions need). ``width_mult`` scales G and D.
    * ``discriminator_channels``: the four conv widths of D_1 and D_2; ``discriminator_scales`` = 2
      (full and half resolution).
    * ``code_channels``: switch-code channels per expression (Table I: 20).
    * C: VGG-19 trunk scaled by ``vgg_width_mult`` (``vgg_batch_norm``: VGG-19-BN, for training from
      scratch, since the paper's ImageNet weights are not available offline), FC(``fuse_channels``) on
      [VGG(I), G_enc(I)], AvgPool to ``pool_size``, two FC(``hidden``) layers with ``dropout``.
    * ``num_classes``: 7 (FER2013 labels; the paper's RAF-DB/MMI sets have 7) or 8 (FERPlus majority).
    * ``pooled_switch``: the switch unit hands each face the other's exchanged blocks as their spatial means,
      broadcast (an expression code without the other face's layout; docs/switchgan.md, "Ghosts"). Off by
      default (the paper's switch, and what models saved before the option existed were trained with); the
      ``cpu`` preset turns it on.
    * ``crop_template``: the framing of the training faces; ``genfer transfer`` aligns its inputs to it.
    * ``perceptual_model``: the frozen network F of L_per (Eq. 11), a genfer recognizer name or folder.
      The paper uses an ImageNet VGG, which cannot be downloaded here; genfer's shipped FER recognizer
      (its stage outputs, the ``genfer-lpips`` features) stands in.
    """

    in_chans: int = 3
    image_size: int = 256
    num_classes: int = 7
    encoder_channels: tuple[int, ...] = (64, 128, 256, 512, 512)
    discriminator_channels: tuple[int, ...] = (64, 128, 256, 512)
    width_mult: float = 1.0
    code_channels: int = 20
    interpolation_p: float = 0.5
    allow_uneven_blocks: bool = True
    skip_connections: bool = True
    residual_scale: float = 1.0
    pooled_switch: bool = False
    discriminator_scales: int = 2
    vgg_width_mult: float = 1.0
    vgg_batch_norm: bool = False
    fuse_channels: int = 512
    pool_size: int = 7
    hidden: int = 4096
    dropout: float = 0.5
    crop_template: str = "fer2013"
    perceptual_model: str = "fer-resnet18s-48"

    def __post_init__(self) -> None:
        _check(self.in_chans in (1, 3), f"model.in_chans must be 1 or 3, not {self.in_chans}")
        _check(32 <= self.image_size <= 512, f"model.image_size {self.image_size} out of range 32..512")
        _check(self.num_classes in (7, 8), f"model.num_classes must be 7 or 8, not {self.num_classes}")
        _check(len(self.encoder_channels) == 5,
               "model.encoder_channels needs 5 widths (G_enc's map must match VGG-19's last pool, 1/32)")
        _check(len(self.discriminator_channels) >= 1, "model.discriminator_channels needs at least one width")
        _check(all(c >= 1 for c in (*self.encoder_channels, *self.discriminator_channels)),
               "model channel widths must be >= 1")
        _check(self.width_mult > 0 and self.vgg_width_mult > 0, "model.width_mult and vgg_width_mult must be > 0")
        _check(self.code_channels >= 1, "model.code_channels must be >= 1")
        _check(0.0 <= self.interpolation_p <= 1.0, "model.interpolation_p must be in [0, 1]")
        _check(self.residual_scale > 0, "model.residual_scale must be > 0")
        _check(self.discriminator_scales >= 1 and self.image_size >> (self.discriminator_scales - 1) >= 16,
               "model.discriminator_scales must be >= 1 and leave the smallest scale at least 16 px")
        _check(self.fuse_channels >= 1 and self.pool_size >= 1 and self.hidden >= 1,
               "model.fuse_channels, pool_size and hidden must be >= 1")
        _check(0.0 <= self.dropout < 1.0, "model.dropout must be in [0, 1)")
        _check(self.crop_template in CROP_TEMPLATES,
               f"model.crop_template must be one of {', '.join(CROP_TEMPLATES)}, not {self.crop_template!r}")
        _check(bool(self.perceptual_model), "model.perceptual_model must name a recognizer")


SWITCHGAN_GAN_OPTIM = OptimConfig(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), weight_decay=0.0, epochs=30,
                                  batch_size=16, warmup_epochs=0.0, label_smoothing=0.0, ema_decay=0.0)
"""G and D: Adam, learning rate 2e-4, β = (0.5, 0.999) (paper Sec. IV-B)."""

SWITCHGAN_CLS_OPTIM = OptimConfig(optimizer="sgd", lr=1e-3, momentum=0.9, weight_decay=5e-4, epochs=30,
                                  batch_size=32, warmup_epochs=0.0, label_smoothing=0.0, ema_decay=0.0)
"""C: SGD, learning rate 1e-3, momentum 0.9 (paper Sec. IV-B; weight decay is not given, 5e-4 is VGG's)."""


@dataclass(frozen=True)
class SwitchGANTrainConfig(RunConfig):
    """A switch-unit GAN run (``genfer train switchgan``): G, D_1, D_2 and C trained jointly.

    Run length and batches: ``cls_optim.epochs`` epochs over the original training faces, C seeing
    ``cls_optim.batch_size`` originals per step; the GAN's pair batch is ``gan_optim.batch_size`` faces
    I_a and as many faces I_b. Joint training makes one D, G and C update per step, so
    ``gan_optim.epochs`` must equal ``cls_optim.epochs``; with ``two_stage`` it is the length of the GAN
    stage. Of the optimiser sections, ``optimizer``, ``lr``, ``momentum``, ``betas``, ``weight_decay``,
    ``warmup_epochs`` (with ``lr_schedule=cosine``), ``epochs`` and ``batch_size`` are used.

    Ablations (Table VII, Fig. 12):

    * ``interpolation_loss`` False: No_InterL (no L_inter in D's or G's objective).
    * ``expression_representation`` False: No_ExpR (C is a plain VGG-19 without G_enc(I)).
    * both False: No_InterL_ExpR.
    * ``synthesised_faces_for_classifier`` False: No_SynFI (C sees original faces only; the paper's
      No_SynFI also drops G_enc(I), see :data:`SWITCHGAN_ABLATIONS`).
    * ``two_stage``: TwoStage (train the GAN first, then C on the frozen G).
    * ``synthesised_per_original`` k: kN of Fig. 12, C sees k synthesised versions of every original, each
      with another target expression (paper: 6N, every other expression). 0 is the same as No_SynFI.

    Other choices where the paper is silent:

    * ``loss_reduction``: ``mean`` averages every image and feature loss over its elements (L_r is then
      the MSE), as PyTorch's L1/MSE losses do, which the weights λ1..λ4 balance against the
      adversarial terms; ``sum`` takes the per-sample norms as printed in Eq. 9-11.
    * ``perceptual_pairing``: ``paper`` compares I_a with I_d and I_b with I_c as Eq. 11 prints (with an
      expression network as F this asks each transfer to carry the expression features of its
      reference); ``source`` compares each transfer with its own source.
    * ``init_from``: a switch-unit GAN model or run folder (``final/`` or checkpoint) whose G, C and, when the folder
      keeps it (runs do, shipped folders do not), D start this run, with fresh optimisers: a fine-tune with other
      loss weights. Its ``model`` section must equal this run's.
    * ``classifier_grad_through_synthesis``: let L_C reach G through the synthesised faces C classifies.
      Off by default: L_C reaches G through G_enc(I) (Eq. 8) only, so G cannot encode the target label
      in its residuals for C to read.

    Against ghosts (docs/switchgan.md, "Ghosts"; the shipped model until issue 17 used ``maps`` and ``output``;
    :data:`SWITCHGAN_ABLATIONS` ``["Ghosting"]`` restores both and the spatial switch):

    * ``perceptual_features``: ``pooled`` compares the channel means of each layer of F in L_per, ``maps``
      the whole feature maps. With the paper's pairing, matching the reference's maps asks the transfer to
      carry the reference's contours; outputs then blend the two faces.
    * ``tv_target``: the TV term of Eq. 12 on G's output, read as the ``residual`` images G_dec outputs
      (Eq. 4; a ghost is an edge in the residual), or on the composed ``output`` faces (charges the face's
      own edges too and favours a blurred blend of the two faces).
    """

    method: ClassVar[str] = "switchgan"

    name: str = "switchgan"
    eval_every_epochs: float = 1.0
    grid_images: int = 8
    model: SwitchGANModelConfig = field(default_factory=SwitchGANModelConfig)
    data: DataConfig = field(default_factory=lambda: DataConfig(label_source="fer2013", target="label"))
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(
        hflip=False, rotate_deg=0.0, scale=0.0, shift=0.0, brightness=0.0, contrast=0.0, erase_prob=0.0))
    weights: SwitchGANLossWeights = field(default_factory=SwitchGANLossWeights)
    loss_reduction: str = "mean"
    perceptual_pairing: str = "paper"
    perceptual_features: str = "pooled"
    tv_target: str = "residual"
    gan_optim: OptimConfig = field(default_factory=lambda: SWITCHGAN_GAN_OPTIM)
    cls_optim: OptimConfig = field(default_factory=lambda: SWITCHGAN_CLS_OPTIM)
    lr_schedule: str = "constant"
    interpolation_loss: bool = True
    expression_representation: bool = True
    synthesised_faces_for_classifier: bool = True
    synthesised_per_original: int = 6
    two_stage: bool = False
    init_from: str = ""
    classifier_grad_through_synthesis: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.eval_every_epochs > 0, "eval_every_epochs must be > 0")
        _check(self.grid_images >= 0, "grid_images must be >= 0")
        _check(self.data.target == "label", "data.target must be 'label': the switch needs one expression per face")
        check_float32_only("the switch-unit GAN", self.gan_optim, self.cls_optim)
        _check(self.loss_reduction in LOSS_REDUCTIONS,
               f"loss_reduction must be one of {', '.join(LOSS_REDUCTIONS)}, not {self.loss_reduction!r}")
        _check(self.perceptual_pairing in PERCEPTUAL_PAIRINGS,
               f"perceptual_pairing must be one of {', '.join(PERCEPTUAL_PAIRINGS)}, not {self.perceptual_pairing!r}")
        _check(self.perceptual_features in PERCEPTUAL_FEATURES,
               f"perceptual_features must be one of {', '.join(PERCEPTUAL_FEATURES)}, not {self.perceptual_features!r}")
        _check(self.tv_target in TV_TARGETS, f"tv_target must be one of {', '.join(TV_TARGETS)}, not {self.tv_target!r}")
        _check(self.lr_schedule in LR_SCHEDULES,
               f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, not {self.lr_schedule!r}")
        _check(0 <= self.synthesised_per_original < self.model.num_classes,
               f"synthesised_per_original must be in 0..{self.model.num_classes - 1} (one per other expression), "
               f"not {self.synthesised_per_original}")
        _check(self.two_stage or self.gan_optim.epochs == self.cls_optim.epochs,
               f"gan_optim.epochs ({self.gan_optim.epochs}) must equal cls_optim.epochs ({self.cls_optim.epochs}) "
               "in joint training (one D, G and C update per step); they differ only with two_stage")

    @property
    def synthesised_for_classifier(self) -> int:
        """k of kN actually used: 0 when ``synthesised_faces_for_classifier`` is off."""
        return self.synthesised_per_original if self.synthesised_faces_for_classifier else 0


SWITCHGAN_ABLATIONS: dict[str, tuple[str, ...]] = {
    "Ours": (),
    "No_InterL": ("interpolation_loss=false",),
    "No_ExpR": ("expression_representation=false",),
    "No_InterL_ExpR": ("interpolation_loss=false", "expression_representation=false"),
    # "only uses original facial images to train the classifier C, and the expression representation G_enc(I)
    # in Eq. 8 is excluded" (Sec. IV-E); its accuracy equals the plain VGG-19's in Tables II and VII.
    "No_SynFI": ("synthesised_faces_for_classifier=false", "expression_representation=false"),
    "TwoStage": ("two_stage=true",),
    **{f"{k}N": (f"synthesised_per_original={k}",) for k in range(7)},
    # not a Table VII row: how the shipped model was trained before issue 17 (L_per on whole maps, TV of the faces,
    # the switch handing over spatial blocks), which made its transfers blend the two faces (docs/switchgan.md)
    "Ghosting": ("perceptual_features=maps", "tv_target=output", "model.pooled_switch=false"),
}
"""Table VII's rows and Fig. 12's kN as ``--set`` overrides of a preset (``genfer train switchgan --set ...``)."""


_TINY_GAN = replace(SWITCHGAN_GAN_OPTIM, epochs=2, batch_size=8, lr=1e-3)
_CPU_GAN = replace(SWITCHGAN_GAN_OPTIM, epochs=10, batch_size=16)

SWITCHGAN_PRESETS: dict[str, SwitchGANTrainConfig] = {
    "tiny": SwitchGANTrainConfig(
        name="switchgan-tiny", checkpoint_minutes=0.05, grid_images=4, synthesised_per_original=2,
        model=SwitchGANModelConfig(in_chans=1, image_size=32, num_classes=8, encoder_channels=(4, 8, 8, 16, 16),
                                   discriminator_channels=(4, 8, 8, 16), code_channels=2, vgg_width_mult=1 / 16,
                                   vgg_batch_norm=True, fuse_channels=8, pool_size=1, hidden=16, dropout=0.0),
        data=DataConfig(label_source="majority", target="label", limit_train=64, limit_val=32),
        augment=AugmentConfig(rotate_deg=5.0, scale=0.05, shift=0.04, brightness=0.0, contrast=0.0, erase_prob=0.0),
        gan_optim=_TINY_GAN,
        cls_optim=replace(SWITCHGAN_CLS_OPTIM, epochs=2, batch_size=16, lr=1e-2),
    ),
    # 48 px grayscale FERPlus faces with FER2013's 7 labels (7 blocks, as the paper's RAF-DB / MMI; FERPlus' majority
    # labels leave 165 contempt and 175 disgust training faces to pair, FER2013's 439 disgust among all 28,558),
    # FER2013Valid for validation; the shipped recognizer's framing and size,
    # so L_per's network and the recognizer read the faces natively. Sized for 2 shared CPU cores: G/D at half
    # the paper's widths (224 = 7 x 32 channels for R), VGG-19-BN at a quarter, FC-512 head, 1N synthesised
    # faces per original (6N costs 3.5x the classifier), 10 epochs of 892 steps (about 1 s per step on one
    # thread here). C trains from scratch (no ImageNet VGG offline) with SGD at 1e-2 and a cosine decay: at the
    # paper's 1e-3 (a fine-tuning rate) this VGG-19-BN alone was still at chance (25% of its batches) after 850
    # steps; at 1e-2 it leaves chance after ~400 and reached 38% by then (measured on FERPlus, batch 32).
    "cpu": SwitchGANTrainConfig(
        name="switchgan-cpu", synthesised_per_original=1, lr_schedule="cosine",
        model=SwitchGANModelConfig(in_chans=1, image_size=48, encoder_channels=(32, 64, 128, 256, 224),
                                   discriminator_channels=(32, 64, 128, 256), code_channels=4, pooled_switch=True,
                                   vgg_width_mult=0.25, vgg_batch_norm=True, fuse_channels=128, pool_size=2,
                                   hidden=512),
        augment=AugmentConfig(rotate_deg=5.0, scale=0.05, shift=0.04, brightness=0.0, contrast=0.0, erase_prob=0.0),
        gan_optim=_CPU_GAN,
        cls_optim=replace(SWITCHGAN_CLS_OPTIM, epochs=10, batch_size=32, lr=1e-2),
    ),
    # The paper: 256 px RGB, Table I, VGG-19 with FC-4096 (no ImageNet weights offline: from scratch), 6N, SGD 1e-3,
    # no augmentation mentioned. The pair batch and the epochs are not given in the paper. Its data here: the same
    # FER2013-labelled FERPlus faces, upsampled (RAF-DB and Multi-PIE are not in ../shared/data).
    "paper": SwitchGANTrainConfig(name="switchgan-paper"),
}


__all__ = [
    "CROP_TEMPLATES",
    "LOSS_REDUCTIONS",
    "LR_SCHEDULES",
    "PERCEPTUAL_FEATURES",
    "PERCEPTUAL_PAIRINGS",
    "SWITCHGAN_ABLATIONS",
    "SWITCHGAN_CLS_OPTIM",
    "SWITCHGAN_GAN_OPTIM",
    "SWITCHGAN_PRESETS",
    "TV_TARGETS",
    "SwitchGANLossWeights",
    "SwitchGANModelConfig",
    "SwitchGANTrainConfig",
]
