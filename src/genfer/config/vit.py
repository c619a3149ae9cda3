"""ViT encoder sizes (PF-ViT Table 1's ViT-T/S/B and the CPU ViT); the MAE built on them is in :mod:`.mae`."""

from __future__ import annotations

from dataclasses import dataclass

from genfer.config.base import _check, _check_transformer


@dataclass(frozen=True)
class ViTConfig:
    """A plain ViT encoder (:class:`genfer.models.vit.ViT`) with fixed 2D sin-cos position embeddings.

    The paper's sizes (Table 1 of PF-ViT) are ``VIT_PRESETS['vit_tiny' | 'vit_small' | 'vit_base']``:
    patch 16, 12 layers, widths 192/384/768 with 64 dims per head.
    """

    image_size: int = 224
    patch_size: int = 16
    in_chans: int = 3
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    drop_path: float = 0.0

    def __post_init__(self) -> None:
        _check(self.in_chans in (1, 3), f"vit.in_chans must be 1 or 3, not {self.in_chans}")
        _check(self.patch_size >= 1, f"vit.patch_size must be >= 1, not {self.patch_size}")
        _check(
            self.image_size >= self.patch_size and self.image_size % self.patch_size == 0,
            f"vit.image_size {self.image_size} must be a positive multiple of vit.patch_size {self.patch_size}",
        )
        _check_transformer("vit", "embed_dim", self.embed_dim, self.depth, self.num_heads)
        _check(self.mlp_ratio > 0, f"vit.mlp_ratio must be > 0, not {self.mlp_ratio}")
        _check(0 <= self.drop_path < 1, f"vit.drop_path must be in [0, 1), not {self.drop_path}")

    @property
    def num_patches(self) -> int:
        """N = (image_size / patch_size)²."""
        return (self.image_size // self.patch_size) ** 2


VIT_PRESETS: dict[str, ViTConfig] = {
    "tiny": ViTConfig(image_size=32, patch_size=8, in_chans=1, embed_dim=32, depth=2, num_heads=2),
    "cpu": ViTConfig(image_size=48, patch_size=6, in_chans=1, embed_dim=192, depth=12, num_heads=3),
    "vit_tiny": ViTConfig(image_size=224, patch_size=16, in_chans=3, embed_dim=192, depth=12, num_heads=3),
    "vit_small": ViTConfig(image_size=224, patch_size=16, in_chans=3, embed_dim=384, depth=12, num_heads=6),
    "vit_base": ViTConfig(image_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12),
}
