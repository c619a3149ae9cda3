"""Masked-autoencoder configs (``genfer train mae``): the MAE's sizes, MAE's Table 1 decoders and the pretraining run.

Presets: ``MAE_PRESETS`` (model sizes) and ``MAE_TRAIN_PRESETS`` (runs: ``tiny``, ``cpu``, ``paper``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

from genfer.config.base import _check, _check_transformer
from genfer.config.recognizer import AugmentConfig, OptimConfig
from genfer.config.run import PooledRunConfig
from genfer.config.vit import VIT_PRESETS, ViTConfig

# PF-ViT Table 1: the MAE decoder paired with each encoder width -> (decoder_dim, decoder_depth, decoder_heads),
# 32 dims per head.
MAE_TABLE1_DECODERS: dict[int, tuple[int, int, int]] = {
    192: (128, 8, 4),  # ViT-T
    384: (256, 8, 8),  # ViT-S
    768: (512, 8, 16),  # ViT-B
}


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


@dataclass(frozen=True)
class MAETrainConfig(PooledRunConfig):
    """An MAE pretraining run (``genfer train mae``): no labels are read.

    The last ``holdout`` images of the pooled sources are kept out of training; the run reports the
    masked-patch loss on them and saves reconstruction grids of the first ``grid_images`` of them.
    """

    method: ClassVar[str] = "mae"

    name: str = "mae"
    holdout: int = 256
    mae: MAEConfig = field(default_factory=MAEConfig)
    grid_images: int = 8
    grid_every_epochs: float = 1.0
    augment: AugmentConfig = field(default_factory=lambda: MAE_AUGMENT)
    optim: OptimConfig = field(default_factory=lambda: MAE_OPTIM)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(0 <= self.grid_images <= self.holdout, "grid_images must be in [0, holdout]")
        _check(self.optim.optimizer in ("adamw", "adam"), "MAE pretraining uses optim.optimizer adamw (or adam)")


MAE_AUGMENT = AugmentConfig(hflip=True, rotate_deg=0.0, scale=0.15, shift=0.08, brightness=0.0, contrast=0.0,
                            erase_prob=0.0)
"""MAE's light augmentation (random scale/shift crop and flip; no colour jitter or erasing)."""

MAE_OPTIM = OptimConfig(optimizer="adamw", lr=1.5e-4, weight_decay=0.05, betas=(0.9, 0.95), epochs=300,
                        batch_size=256, warmup_epochs=40, label_smoothing=0.0, ema_decay=0.0)
"""MAE's recipe: AdamW, betas (0.9, 0.95), weight decay 0.05, cosine after warm-up; lr = 1.5e-4 × batch / 256."""

MAE_TRAIN_PRESETS: dict[str, MAETrainConfig] = {
    "tiny": MAETrainConfig(
        name="mae-tiny", checkpoint_minutes=0.05, mae=MAE_PRESETS["tiny"], limit=96, holdout=16, grid_images=4,
        optim=replace(MAE_OPTIM, epochs=2, batch_size=16, warmup_epochs=0.5, lr=1e-3),
    ),
    # ViT-T width, 12 layers, 48 px patch 6 with Table 1's ViT-T decoder; FERPlus train + faces128 (38.6k images),
    # 10 epochs (about 70 min on 2 free cores at 96 images/s). The shipped run was started with 20 epochs and
    # shortened to 10 at epoch 6.6 (resumed with `--set optim.epochs=10`, logged in its metrics.jsonl).
    "cpu": MAETrainConfig(
        name="mae-cpu", mae=MAE_PRESETS["cpu"],
        optim=replace(MAE_OPTIM, epochs=10, batch_size=128, warmup_epochs=1, lr=1e-3),
    ),
    # The paper: ViT-B/16 at 224 px, 3 channels, 300 epochs (on AffectNet in the paper; here any sources).
    "paper": MAETrainConfig(name="mae-paper", mae=MAE_PRESETS["paper"],
                            optim=replace(MAE_OPTIM, epochs=300, batch_size=4096, lr=1.5e-4 * 4096 / 256)),
}



