"""IFER: expression recognition from an inversion encoder's codes (Mao et al., Sec. 3.2, Fig. 7).

:class:`FeatureModulationHead` fuses the W+ codes and the structure code: one MLP per W+ entry maps its code
(an offset from the average latent), the outputs are summed, the learned affine transform A of a StyleGAN2
modulated convolution turns the sum into per-channel styles, and the (de)modulated 3×3 convolution is applied to
the 4×4 map (the structure code, or for Table 5a a middle-layer map); then bias + leaky ReLU, global average
pooling and a linear classifier. Table 5b's other rows classify the summed MLP outputs alone (``latent``) or the
map through a plain 3×3 convolution (``structure``).

:class:`IFER` is an inversion encoder (ASIT, or pSp for "pSp+FER") with the head: ``forward(x) -> logits``.
pSp has no structure code: its coarsest pyramid level (4×4 at 64 px) stands in for it, its medium level for the
middle-layer map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from genfer.layers.stylegan import FusedLeakyReLU, ModulatedConv2d
from genfer.models.asit import ASITEncoder, build_asit_encoder, resize_map
from genfer.models.psp import GradualStyleEncoder, InversionEncoder, build_psp_encoder

if TYPE_CHECKING:
    from genfer.config import IFERModelConfig, IFERTrainConfig

__all__ = ["IFER", "FeatureModulationHead", "build_fer_encoder", "build_ifer", "fer_inputs", "fer_map_channels"]


def _mlp(in_features: int, width: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods.append(nn.Linear(in_features if i == 0 else width, width))
        if i + 1 < layers:
            mods.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*mods)


class FeatureModulationHead(nn.Module):
    """Fig. 7's feature modulation module and a classifier (see the module docstring).

    Args:
        n_latent, style_dim: the W+ codes' shape.
        map_channels: channels of the 4×4 map.
        num_classes: K.
        fusion: ``modulation``, ``latent`` or ``structure``.
        mlp_dim, mlp_layers: the per-entry MLPs (linear layers with leaky ReLU between them).
        conv_channels: outputs of the (modulated) convolution.
        dropout: before the classifier.

    Shapes: ``forward(latents: (B, n_latent, style_dim), fmap: (B, map_channels, 4, 4)) -> (B, K)``.
    """

    def __init__(self, *, n_latent: int, style_dim: int, map_channels: int, num_classes: int,
                 fusion: str = "modulation", mlp_dim: int = 256, mlp_layers: int = 2, conv_channels: int = 256,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if fusion not in ("modulation", "latent", "structure"):
            raise ValueError(f"fusion must be modulation, latent or structure, not {fusion!r}")
        self.fusion = fusion
        features = mlp_dim
        if fusion in ("modulation", "latent"):
            self.mlps = nn.ModuleList(_mlp(style_dim, mlp_dim, mlp_layers) for _ in range(n_latent))
        if fusion == "modulation":
            self.conv = ModulatedConv2d(in_channels=map_channels, out_channels=conv_channels, kernel_size=3,
                                        style_dim=mlp_dim, demodulate=True)
            self.act = FusedLeakyReLU(channels=conv_channels)
            features = conv_channels
        elif fusion == "structure":
            self.conv_plain = nn.Conv2d(map_channels, conv_channels, 3, padding=1)
            self.act = FusedLeakyReLU(channels=conv_channels)
            features = conv_channels
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(features, num_classes)

    def fused_latent(self, latents: torch.Tensor) -> torch.Tensor:
        """Σ_i MLP_i(latents[:, i]): (B, n_latent, D) -> (B, mlp_dim)."""
        return torch.stack([mlp(latents[:, i]) for i, mlp in enumerate(self.mlps)]).sum(0)

    def forward_features(self, latents: torch.Tensor, fmap: torch.Tensor) -> torch.Tensor:
        """The pooled features the classifier reads: (B, conv_channels) or (B, mlp_dim) for ``latent``."""
        if self.fusion == "latent":
            return self.fused_latent(latents)
        if self.fusion == "structure":
            return self.act(self.conv_plain(fmap)).mean(dim=(2, 3))
        return self.act(self.conv(fmap, self.fused_latent(latents))).mean(dim=(2, 3))

    def forward(self, latents: torch.Tensor, fmap: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(latents, fmap)))


def fer_map_channels(encoder: InversionEncoder, fer_map: str) -> int:
    """Channels of the map the head modulates: the structure code's (pSp: its coarsest level's) or the middle
    level's."""
    if isinstance(encoder, ASITEncoder):
        return encoder.structure_channels if fer_map == "structure" else encoder.lateral_medium.out_channels
    if isinstance(encoder, GradualStyleEncoder):
        return encoder.latlayer1.out_channels  # the pyramid's width (stage 4's channels) at every level
    raise TypeError(f"IFER needs an ASIT or pSp encoder, not {type(encoder).__name__}")


def fer_inputs(encoder: InversionEncoder, x: torch.Tensor, fer_map: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(latent codes (B, n_latent, D) as offsets from the average latent, 4×4 map (B, C, 4, 4)) of images x."""
    if isinstance(encoder, ASITEncoder):
        feats = encoder.analyse(x)
        fmap = feats.code.structure if fer_map == "structure" else resize_map(feats.levels[1], 4)
        return feats.code.wplus - encoder.latent_avg, fmap
    if isinstance(encoder, GradualStyleEncoder):
        levels = encoder.pyramid(x)  # (coarse, medium, fine), computed once for the codes and the map
        offsets = torch.stack([head(levels[encoder.level(i)]) for i, head in enumerate(encoder.styles)], dim=1)
        return offsets, resize_map(levels[0] if fer_map == "structure" else levels[1], 4)
    raise TypeError(f"IFER needs an ASIT or pSp encoder, not {type(encoder).__name__}")


class IFER(nn.Module):
    """An inversion encoder and the feature modulation head: ``forward(x: (B, C, S, S) in [-1, 1]) -> (B, K)``."""

    def __init__(self, *, encoder: InversionEncoder, head: FeatureModulationHead, fer_map: str = "structure") -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.fer_map = fer_map
        self.num_classes = head.classifier.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        latents, fmap = fer_inputs(self.encoder, x, self.fer_map)
        return self.head(latents, fmap)


def build_ifer(cfg: IFERModelConfig, encoder: InversionEncoder) -> IFER:
    """IFER over ``encoder`` with a freshly initialised head."""
    head = FeatureModulationHead(
        n_latent=encoder.n_latent, style_dim=encoder.style_dim, map_channels=fer_map_channels(encoder, cfg.fer_map),
        num_classes=cfg.num_classes, fusion=cfg.fusion, mlp_dim=cfg.mlp_dim, mlp_layers=cfg.mlp_layers,
        conv_channels=cfg.conv_channels, dropout=cfg.dropout)
    return IFER(encoder=encoder, head=head, fer_map=cfg.fer_map)


def build_fer_encoder(cfg: IFERTrainConfig) -> InversionEncoder:
    """A freshly initialised encoder of an IFER config's architecture (its ``asit`` or ``psp`` section)."""
    if cfg.encoder == "asit":
        return build_asit_encoder(cfg.asit, cfg.stylegan2)
    return build_psp_encoder(cfg.psp, cfg.stylegan2)
