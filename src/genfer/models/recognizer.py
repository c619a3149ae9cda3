"""Expression recognizers for small aligned face crops (48–112 px), built on timm backbones.

``resnet``: timm's ResNet (BasicBlock) with a 3×3 stem of configurable stride and no max-pool, so a
48 px face keeps enough resolution; stage widths are configurable (``channels``) for CPU budgets.
``vit``: timm's VisionTransformer with a small patch for 48–112 px inputs.
``mae_vit``: genfer's own ViT (:class:`genfer.models.vit.ViT`, fixed sin-cos positions), the MAE/PF-ViT encoder
with a linear [CLS] head (``drop_rate`` is its stochastic depth).

All subclass :class:`PooledNetRecognizer`: ``pooled_features(x) -> (B, D)`` (timm's ``forward_features`` pooled by
its head) and ``forward_head(f) -> (B, K)`` logits.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from genfer.config import RecognizerModelConfig


class PooledNetRecognizer(nn.Module):
    """A recognizer around a timm-style ``net``: ``net.forward_features`` pooled by ``net.forward_head(...,
    pre_logits=True)`` (ResNets: global average; ViTs: the [CLS] token), then the linear classifier
    ``net.<classifier>``."""

    net: nn.Module
    classifier: ClassVar[str]

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) normalised -> (B, D) pooled features."""
        return self.net.forward_head(self.net.forward_features(x), pre_logits=True)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """features: (B, D) -> logits (B, K)."""
        return getattr(self.net, self.classifier)(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> logits (B, K)."""
        return self.forward_head(self.pooled_features(x))


class FaceResNet(PooledNetRecognizer):
    """A ResNet for face crops.

    Args:
        depth: 10, 18 or 34 (BasicBlock layer counts).
        channels: widths of the four stages.
        in_chans: 1 (grayscale) or 3.
        stem_stride: stride of the 3×3 stem convolution (1 or 2).
        norm: ``batch`` (BatchNorm) or ``group`` (one-group GroupNorm: batch-independent, so DDP on CPU,
            where SyncBatchNorm is unavailable, matches single-process training exactly).
        num_classes: K.
        drop_rate: dropout before the classifier.
    """

    LAYERS = {10: (1, 1, 1, 1), 18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
    classifier = "fc"

    def __init__(
        self,
        *,
        depth: int = 18,
        channels: tuple[int, int, int, int] = (64, 128, 256, 512),
        in_chans: int = 1,
        stem_stride: int = 2,
        norm: str = "batch",
        num_classes: int = 8,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        from timm.layers import GroupNorm1
        from timm.models.resnet import BasicBlock, ResNet

        if depth not in self.LAYERS:
            raise ValueError(f"resnet depth must be one of {sorted(self.LAYERS)}, not {depth}")
        net = ResNet(
            BasicBlock,
            list(self.LAYERS[depth]),
            num_classes=num_classes,
            in_chans=in_chans,
            channels=tuple(channels),
            stem_type="deep",  # makes the stem output channels[0] wide; replaced below
            stem_width=channels[0] // 2,
            drop_rate=drop_rate,
            norm_layer=nn.BatchNorm2d if norm == "batch" else GroupNorm1,
        )
        net.conv1 = nn.Conv2d(in_chans, channels[0], 3, stride=stem_stride, padding=1, bias=False)
        net.maxpool = nn.Identity()
        self.net = net
        self.num_features = net.num_features
        self.num_classes = num_classes


class ClassTokenViT(PooledNetRecognizer):
    """A recognizer around a ViT ``net`` (timm's or genfer's) that classifies its [CLS] token with ``net.head``."""

    classifier = "head"


class FaceViT(ClassTokenViT):
    """A small ViT (timm blocks) for face crops; [CLS] token pooled.

    Args:
        image_size: input side in pixels.
        patch_size: patch side (e.g. 4 or 6 for 48 px).
        embed_dim, depth, num_heads: transformer size.
        in_chans, num_classes, drop_rate: as for :class:`FaceResNet`.
    """

    def __init__(
        self,
        *,
        image_size: int = 48,
        patch_size: int = 6,
        embed_dim: int = 192,
        depth: int = 12,
        num_heads: int = 3,
        in_chans: int = 1,
        num_classes: int = 8,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
    ) -> None:
        super().__init__()
        from timm.models.vision_transformer import VisionTransformer

        self.net = VisionTransformer(
            img_size=image_size,
            patch_size=patch_size,
            in_chans=in_chans,
            num_classes=num_classes,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
        )
        self.num_features = embed_dim
        self.num_classes = num_classes



class MAEViTRecognizer(ClassTokenViT):
    """genfer's MAE/PF-ViT encoder (:class:`genfer.models.vit.ViT`) with a linear [CLS] head.

    Its ``net`` has the MAE encoder's parameter names, so an MAE run's ``encoder.*`` weights load into it.
    """

    def __init__(self, *, image_size: int, patch_size: int, in_chans: int, embed_dim: int, depth: int,
                 num_heads: int, drop_path: float, num_classes: int) -> None:
        super().__init__()
        from genfer.models.vit import ViT

        self.net = ViT(image_size=image_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim,
                       depth=depth, num_heads=num_heads, drop_path=drop_path, num_classes=num_classes)
        self.num_features = embed_dim
        self.num_classes = num_classes



def build_recognizer(cfg: RecognizerModelConfig) -> nn.Module:
    """Construct the recognizer a :class:`RecognizerModelConfig` describes."""
    if cfg.arch == "resnet":
        return FaceResNet(
            depth=cfg.depth,
            channels=tuple(cfg.channels),
            in_chans=cfg.in_chans,
            stem_stride=cfg.stem_stride,
            norm=cfg.norm,
            num_classes=cfg.num_classes,
            drop_rate=cfg.drop_rate,
        )
    if cfg.arch == "vit":
        return FaceViT(
            image_size=cfg.image_size,
            patch_size=cfg.patch_size,
            embed_dim=cfg.channels[0],
            depth=cfg.depth,
            num_heads=cfg.heads,
            in_chans=cfg.in_chans,
            num_classes=cfg.num_classes,
            drop_rate=cfg.drop_rate,
        )
    if cfg.arch == "mae_vit":
        return MAEViTRecognizer(image_size=cfg.image_size, patch_size=cfg.patch_size, in_chans=cfg.in_chans,
                                embed_dim=cfg.channels[0], depth=cfg.depth, num_heads=cfg.heads,
                                drop_path=cfg.drop_rate, num_classes=cfg.num_classes)
    raise ValueError(f"unknown recognizer arch {cfg.arch!r}; use 'resnet', 'vit' or 'mae_vit'")
