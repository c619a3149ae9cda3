"""PF-ViT training configs (``genfer train pfvit``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

from genfer.config.base import _check
from genfer.config.mae import MAE_PRESETS, MAEConfig
from genfer.config.recognizer import AugmentConfig, DataConfig, OptimConfig, check_float32_only
from genfer.config.run import RunConfig

ORTHOGONALITY_OPTIONS = ("none", "direct", "generic", "fr")
"""PF-ViT's orthogonality constraint (paper Table 5): ``direct`` on V_e, V_p themselves; ``generic`` and ``fr``
add the constraint on features of the images G generates from V_e and from V_p, computed by a frozen
generic network (genfer's shipped recognizer) or a face-recognition network (the dlib ResNet port)."""
# G's output head: the paper's per-patch pixel head, or genfer's convolutional head over it (docs/pfvit.md)
OUTPUT_HEADS = ("patch", "conv", "upsample", "windowed")
# the views of the image D judges: the paper's (patches on G's grid), or also shifted by half a patch (docs/pfvit.md)
DISC_VIEWS = ("grid", "shifted")
DISC_EMOTION_TARGETS = ("all", "real")


@dataclass(frozen=True)
class PFViTModelConfig:
    """PF-ViT's architecture: E and G/D sizes from an MAE config, the separator, C's classes.

    ``fr_size`` is the side generated crops are resized to for the dlib network (its chips are 150 px;
    smaller is cheaper and must stay >= 112). ``generic_model`` names the frozen network of ``generic``.
    ``output_head`` is G's: ``patch`` (the paper's, each token decoded into its own patch), ``conv``
    (a convolutional head of ``head_channels`` channels over it, so neighbouring patches agree) or ``upsample``
    (no per-patch projection at all: the token grid upsampled bilinearly in stages with 3×3 convolutions of
    ``head_channels`` channels, so the output has no patch borders; it starts untrained) or ``windowed``
    (each token paints a 2p × 2p tile under a triangular window, the tiles overlap-added so the image is
    continuous across patch borders, then refined by 3×3 convolutions of ``head_channels`` channels; it starts
    from the per-patch head).
    ``disc_views`` is what D sees: ``grid`` (the paper's: the image as is, patched on G's grid) or ``shifted``
    (also the image shifted by half a patch, so G's patch borders fall inside D's patches; the logits are the
    mean over the two views). It changes D's forward only, not its parameters.
    ``disc_emotion`` is what D's K emotion units learn from in D's own step: ``all`` (the paper's Eq. 8: x and x̂
    with their class, x̃ with the neutral class) or ``real`` (StarGAN's rule: the emotion units learn from the real
    x only, x̂ and x̃ enter D's loss through the real/fake unit alone; G's step is the same for both), for when x̃
    still shows the expression and Eq. 8 would teach D that expressive faces are neutral (docs/pfvit.md).
    """

    mae: MAEConfig = field(default_factory=MAEConfig)
    num_classes: int = 8
    neutral: int = 0
    se_reduction: int = 16
    orthogonality: str = "fr"
    fr_size: int = 150
    generic_model: str = "fer-resnet18s-48"
    output_head: str = "patch"
    head_channels: int = 32
    disc_views: str = "grid"
    disc_emotion: str = "all"

    def __post_init__(self) -> None:
        _check(self.num_classes in (7, 8), f"model.num_classes must be 7 or 8, not {self.num_classes}")
        _check(0 <= self.neutral < self.num_classes, "model.neutral must index a class")
        _check(self.se_reduction >= 1, "model.se_reduction must be >= 1")
        _check(self.orthogonality in ORTHOGONALITY_OPTIONS,
               f"model.orthogonality must be one of {', '.join(ORTHOGONALITY_OPTIONS)}, not {self.orthogonality!r}")
        _check(self.fr_size >= 112, f"model.fr_size must be >= 112 (dlib's network), not {self.fr_size}")
        _check(self.output_head in OUTPUT_HEADS,
               f"model.output_head must be one of {', '.join(OUTPUT_HEADS)}, not {self.output_head!r}")
        _check(self.head_channels >= 1, "model.head_channels must be >= 1")
        _check(self.disc_views in DISC_VIEWS,
               f"model.disc_views must be one of {', '.join(DISC_VIEWS)}, not {self.disc_views!r}")
        _check(self.disc_emotion in DISC_EMOTION_TARGETS, f"model.disc_emotion must be one of "
               f"{', '.join(DISC_EMOTION_TARGETS)}, not {self.disc_emotion!r}")


@dataclass(frozen=True)
class PFViTLossWeights:
    """Weights of PF-ViT's loss terms, balanced by their magnitudes (the paper: "roughly balance").

    ``ortho`` weighs the direct constraint of Eq. 2 on (V_e, V_p), ``ortho_features`` the same constraint on the
    frozen network's features of G(V_e) and x̃ (``generic``/``fr``; Table 5 uses both).
    """

    emo: float = 1.0
    rec: float = 1.0
    adv: float = 1.0
    ortho: float = 1.0
    ortho_features: float = 1.0

    def __post_init__(self) -> None:
        _check(all(w >= 0 for w in (self.emo, self.rec, self.adv, self.ortho, self.ortho_features)),
               "loss weights must be >= 0")


PFVIT_OPTIM = OptimConfig(optimizer="adam", lr=2e-5, weight_decay=0.0, betas=(0.9, 0.999), epochs=100,
                          batch_size=32, warmup_epochs=0.0, label_smoothing=0.0, ema_decay=0.0)
"""E, S, G, C: Adam, learning rate 2e-5 (paper Sec. 4.2). No weight average (``ema_decay`` 0): the paper names
none, for PF-ViT or its ViT baselines; ``ema_decay`` > 0 averages E, S, G and C (docs/pfvit.md)."""

PFVIT_DISC_OPTIM = replace(PFVIT_OPTIM, lr=1e-4, betas=(0.5, 0.999))
"""D: Adam, learning rate 1e-4, betas (0.5, 0.999) (paper Sec. 4.2)."""


@dataclass(frozen=True)
class PFViTTrainConfig(RunConfig):
    """A PF-ViT training run (``genfer train pfvit``).

    ``init_from`` is an MAE run's ``final/`` folder (or checkpoint): E, G and D start from its weights, as
    in the paper; or a trained PF-ViT (a shipped name or folder), to continue it, e.g. with a new output head;
    empty starts from scratch (an ablation). ``optim.epochs``/``batch_size``/schedule apply to
    both optimisers; ``disc_optim`` sets D's learning rate and betas. ``optim.ema_decay`` > 0 keeps an exponential
    moving average of E, S, G and C that evaluation and ``final/`` use (``disc_optim.ema_decay`` is not read);
    ``model.mae.encoder.drop_path`` is E's stochastic depth during training. ``disc_warmup_steps`` (genfer's; 0 is the
    paper's schedule) trains only D (Eq. 7 on x and the current G's x̂, x̃) for the run's first that many steps, so
    that D's emotion units read expressions before G is judged by them (docs/pfvit.md); the steps count towards the
    run's length and schedule.
    """

    method: ClassVar[str] = "pfvit"

    name: str = "pfvit"
    eval_every_epochs: float = 1.0
    init_from: str = ""
    model: PFViTModelConfig = field(default_factory=PFViTModelConfig)
    data: DataConfig = field(default_factory=lambda: DataConfig(target="label"))
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    weights: PFViTLossWeights = field(default_factory=PFViTLossWeights)
    optim: OptimConfig = field(default_factory=lambda: PFVIT_OPTIM)
    disc_optim: OptimConfig = field(default_factory=lambda: PFVIT_DISC_OPTIM)
    grid_images: int = 8
    disc_warmup_steps: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.eval_every_epochs > 0, "eval_every_epochs must be > 0")
        _check(self.disc_warmup_steps >= 0, "disc_warmup_steps must be >= 0")
        _check(self.grid_images >= 0, "grid_images must be >= 0")
        check_float32_only("PF-ViT", self.optim, self.disc_optim)


PFVIT_PRESETS: dict[str, PFViTTrainConfig] = {
    "tiny": PFViTTrainConfig(
        name="pfvit-tiny", checkpoint_minutes=0.05, grid_images=4,
        model=PFViTModelConfig(mae=MAE_PRESETS["tiny"], orthogonality="direct", se_reduction=4),
        data=DataConfig(target="label", limit_train=64, limit_val=32),
        optim=replace(PFVIT_OPTIM, epochs=2, batch_size=16, lr=1e-3),
        disc_optim=replace(PFVIT_DISC_OPTIM, epochs=2, batch_size=16, lr=1e-3),
    ),
    # ViT-T width at 48 px (the MAE cpu preset), FR orthogonality on 112 px crops, 2 epochs of FERPlus train, the
    # budget of the cpu_vit baselines: 14.8 images/s on 2 free cores (benchmarks/pfvit_speed.py), so about 1 h.
    # With 2 epochs instead of the paper's 100, E, S, G and C use the baselines' 1e-4 (and their 0.2-epoch
    # warm-up) rather than the paper's 2e-5, which barely moves a ViT in 2 epochs; D keeps the paper's 1e-4.
    # Loss weights: at initialisation from the MAE (64 FERPlus faces) the terms measured L_emo 2.1, L_rec 35.8,
    # L_adv 10.0, L_ortho 1.0 (direct) + 1.0 (fr). Weighting each to start near L_emo (rec 0.05) left L_rec flat
    # at 30-40 for 650 steps (G chased D, reconstructions stayed blobs: SSIM 0.03); with rec 0.5 L_rec falls to 13
    # within 150 steps (probe runs in docs/pfvit.md), so L_rec gets 10x the magnitude-balanced weight. The direct
    # constraint's gradient into E swamps L_emo's: at weight 1, E -> S -> C answered "neutral" for every face (the
    # first 2-epoch run, and a 150-step probe of L_emo + direct alone), at 0.1 C learns as without it (probes in
    # docs/pfvit.md), so it gets 0.1.
    # L_emo's targets are FERPlus's vote distributions, as the cpu_vit baselines' (Eq. 5's cross-entropy with soft
    # labels); Eq. 6's neutral indicator uses the majority label.
    "cpu": PFViTTrainConfig(
        name="pfvit-cpu", init_from="runs/mae-cpu/final",
        model=PFViTModelConfig(mae=MAE_PRESETS["cpu"], fr_size=112),
        data=DataConfig(target="votes"),
        weights=PFViTLossWeights(emo=1.0, rec=0.5, adv=0.2, ortho=0.1, ortho_features=1.0),
        optim=replace(PFVIT_OPTIM, epochs=2, batch_size=32, lr=1e-4, warmup_epochs=0.2),
        disc_optim=replace(PFVIT_DISC_OPTIM, epochs=2, batch_size=32),
    ),
    # The paper: ViT-B/16 at 224 px, 3 channels, MAE-initialised, FR-network orthogonality, 100 epochs, batch 32.
    # L_rec grows with the image norm: sqrt(224² · 3) / 48 ≈ 8 times the cpu preset's, so its weight is 8× smaller.
    "paper": PFViTTrainConfig(
        name="pfvit-paper", init_from="runs/mae-paper/final",
        model=PFViTModelConfig(mae=MAE_PRESETS["paper"]),
        weights=PFViTLossWeights(emo=1.0, rec=0.06, adv=0.2, ortho=1.0),
        augment=AugmentConfig(rotate_deg=0.0, brightness=0.0, contrast=0.0, erase_prob=0.0),
    ),
}

