"""Masked autoencoder (MAE) pretraining model for the PF-ViT encoder, generator and discriminator.

An MAE is a :class:`~genfer.models.vit.ViT` encoder that sees only a random subset of the patches
(by default 25%) and a light decoder that restores the full token sequence with a learned mask token
and predicts every patch's pixels. PF-ViT's Table 1 pairs each encoder with its decoder (32 dims per
head, 8 layers): ViT-T -> 128 wide / 4 heads, ViT-S -> 256 / 8, ViT-B -> 512 / 16
(``genfer.config.MAE_TABLE1_DECODERS``).

The model returns predictions, the mask and the shuffle indices; the loss lives in
:func:`genfer.losses.mae.mae_loss`. Masking is driven by an explicit ``torch.Generator`` (or explicit
noise), never by the global RNG.

Patches are flattened as MAE does: ``(B, C, H, W) -> (B, N, p*p*C)`` with patches in row-major grid order
and, inside a patch, pixel rows, then columns, then channels (channels fastest).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from genfer.config import MAEConfig
from genfer.models.vit import (
    ViT,
    build_vit,
    init_vit_weights,
    sincos_pos_embed_2d,
    transformer_blocks,
)


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """images: (B, C, H, W), H and W multiples of ``patch_size`` p -> (B, N, p*p*C), N = (H/p)(W/p)."""
    b, c, h, w = images.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f"image size {h}x{w} is not a multiple of patch size {p}")
    x = images.reshape(b, c, h // p, p, w // p, p)
    x = x.permute(0, 2, 4, 3, 5, 1)  # (B, rows, cols, p, p, C)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(patches: torch.Tensor, patch_size: int, *, grid: tuple[int, int] | None = None) -> torch.Tensor:
    """patches: (B, N, p*p*C) -> images (B, C, rows*p, cols*p); inverse of :func:`patchify`.

    ``grid`` is (rows, cols); by default the grid is square (N must be a perfect square).
    """
    b, n, d = patches.shape
    p = patch_size
    if d % (p * p):
        raise ValueError(f"patch vector length {d} is not a multiple of patch_size² = {p * p}")
    c = d // (p * p)
    if grid is None:
        side = math.isqrt(int(n))  # int(): n is a tensor while tracing for ONNX export
        if side * side != n:
            raise ValueError(f"{n} patches do not form a square grid; pass grid=(rows, cols)")
        grid = (side, side)
    rows, cols = grid
    if rows * cols != n:
        raise ValueError(f"grid {rows}x{cols} does not hold {n} patches")
    x = patches.reshape(b, rows, cols, p, p, c).permute(0, 5, 1, 3, 2, 4)  # (B, C, rows, p, cols, p)
    return x.reshape(b, c, rows * p, cols * p)


def num_kept(num_patches: int, mask_ratio: float) -> int:
    """Patches an image keeps: round(N (1 - mask_ratio)); at least one kept and one masked."""
    if not 0 < mask_ratio < 1:
        raise ValueError(f"mask_ratio must be in (0, 1), not {mask_ratio}")
    keep = round(num_patches * (1 - mask_ratio))
    if not 1 <= keep < num_patches:
        raise ValueError(f"mask_ratio {mask_ratio} keeps {keep} of {num_patches} patches")
    return keep


@dataclass
class MaskIndices:
    """A per-sample random masking of N patches of which K are kept.

    ids_keep: (B, K) long, the kept patches (in shuffled order).
    ids_restore: (B, N) long, position of each patch in the shuffled order: gathering a shuffled
        sequence with it restores the original patch order.
    mask: (B, N) float, 1 for masked (removed) patches, 0 for kept ones, in original patch order.
    """

    ids_keep: torch.Tensor
    ids_restore: torch.Tensor
    mask: torch.Tensor


def random_masking(
    batch: int,
    num_patches: int,
    mask_ratio: float,
    *,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
    device: torch.device | str | None = None,
) -> MaskIndices:
    """Per-sample random masking (MAE): sort uniform noise, keep the K patches with the lowest noise.

    Args:
        batch: B.
        num_patches: N.
        mask_ratio: share of patches removed; K = :func:`num_kept` (N, mask_ratio).
        generator: draws the (B, N) noise (on the generator's device) when ``noise`` is not given.
        noise: (B, N) explicit noise instead (e.g. a slice of a global batch's noise under DDP).
        device: device of the returned tensors (default: the noise's).

    Returns:
        :class:`MaskIndices`.
    """
    if noise is None:
        if generator is None:
            raise ValueError("random_masking needs an explicit torch.Generator or noise (no global RNG)")
        noise = torch.rand(batch, num_patches, generator=generator, device=generator.device)
    if tuple(noise.shape) != (batch, num_patches):
        raise ValueError(f"noise must be ({batch}, {num_patches}), not {tuple(noise.shape)}")
    if device is not None:
        noise = noise.to(device)
    keep = num_kept(num_patches, mask_ratio)
    ids_shuffle = torch.argsort(noise, dim=1, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1, stable=True)
    mask = torch.ones(batch, num_patches, device=noise.device)
    mask[:, :keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return MaskIndices(ids_keep=ids_shuffle[:, :keep], ids_restore=ids_restore, mask=mask)


class MAEDecoder(nn.Module):
    """The MAE decoder: linear embedding, mask tokens, fixed 2D sin-cos positions, ViT blocks, pixel head.

    Args:
        grid_size: patch grid side (N = grid_size²).
        patch_size: patch side p.
        in_chans: image channels C (the head predicts p*p*C values per patch).
        encoder_dim: width of the encoder tokens it receives.
        decoder_dim: its own width.
        depth: number of blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / decoder_dim.

    PF-ViT reuses it as generator G: :meth:`mask_queries` gives the mask-token + position queries of its
    cross-attention fusion and :meth:`decode` maps fused tokens to patch pixels.
    """

    def __init__(
        self,
        *,
        grid_size: int,
        patch_size: int,
        in_chans: int,
        encoder_dim: int,
        decoder_dim: int = 512,
        depth: int = 8,
        num_heads: int = 16,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        if decoder_dim % num_heads or decoder_dim % 4:
            raise ValueError(f"decoder_dim {decoder_dim} must be divisible by num_heads {num_heads} and by 4")
        self.grid_size = grid_size
        self.num_patches = grid_size**2
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.decoder_dim = decoder_dim
        self.embed = nn.Linear(encoder_dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.register_buffer(
            "pos_embed", sincos_pos_embed_2d(decoder_dim, grid_size, cls_token=True).unsqueeze(0), persistent=False
        )
        self.blocks = transformer_blocks(dim=decoder_dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio)
        self.norm = nn.LayerNorm(decoder_dim, eps=1e-6)
        self.pred = nn.Linear(decoder_dim, patch_size * patch_size * in_chans)
        init_vit_weights(self)
        nn.init.normal_(self.mask_token, std=0.02)

    def mask_queries(self, batch: int) -> torch.Tensor:
        """(B, N, decoder_dim): the mask token plus each patch's position embedding."""
        return (self.mask_token + self.pos_embed[:, 1:]).expand(batch, -1, -1)

    def restore(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Embed the encoder's tokens, fill the masked slots with mask tokens, unshuffle, add positions.

        Args:
            latent: (B, 1 + K, encoder_dim) encoder output, [CLS] first, kept patches in shuffled order.
            ids_restore: (B, N) from :func:`random_masking`.

        Returns:
            (B, 1 + N, decoder_dim) tokens in original patch order, [CLS] first.
        """
        x = self.embed(latent)
        b, k1, d = x.shape
        n = ids_restore.shape[1]
        fill = self.mask_token.expand(b, n + 1 - k1, -1)
        patches = torch.cat([x[:, 1:], fill], dim=1)  # (B, N, d) in shuffled order
        patches = torch.gather(patches, 1, ids_restore.unsqueeze(-1).expand(-1, -1, d))
        return torch.cat([x[:, :1], patches], dim=1) + self.pos_embed

    def decode_features(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (B, 1 + N, decoder_dim) -> (B, N, decoder_dim) normalised patch features ([CLS] dropped)."""
        return self.norm(self.blocks(tokens))[:, 1:]

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (B, 1 + N, decoder_dim) -> (B, N, p*p*C) patch predictions ([CLS] dropped)."""
        return self.pred(self.decode_features(tokens))

    def forward(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """latent: (B, 1 + K, encoder_dim), ids_restore: (B, N) -> (B, N, p*p*C) predictions."""
        return self.decode(self.restore(latent, ids_restore))


@dataclass
class MAEOutput:
    """What :class:`MaskedAutoencoder` returns.

    pred: (B, N, p*p*C) predicted pixels of every patch (in the loss's target space).
    mask: (B, N) float, 1 for masked patches.
    ids_keep: (B, K) kept patch indices (shuffled order).
    ids_restore: (B, N) unshuffle indices.
    latent: (B, 1 + K, D) encoder tokens ([CLS], then kept patches).
    """

    pred: torch.Tensor
    mask: torch.Tensor
    ids_keep: torch.Tensor
    ids_restore: torch.Tensor
    latent: torch.Tensor


class MaskedAutoencoder(nn.Module):
    """MAE: a :class:`ViT` encoder over the kept patches plus an :class:`MAEDecoder`.

    Args:
        encoder: the ViT to pretrain (its classification head, if any, is unused).
        decoder_dim, decoder_depth, decoder_heads: decoder size (PF-ViT Table 1: 128/256/512 wide,
            8 layers, 4/8/16 heads for ViT-T/S/B).
        mlp_ratio: decoder MLP ratio.
        mask_ratio: default share of patches removed (0.75).
    """

    def __init__(
        self,
        *,
        encoder: ViT,
        decoder_dim: int = 512,
        decoder_depth: int = 8,
        decoder_heads: int = 16,
        mlp_ratio: float = 4.0,
        mask_ratio: float = 0.75,
    ) -> None:
        super().__init__()
        num_kept(encoder.num_patches, mask_ratio)  # validates the ratio for this grid
        self.encoder = encoder
        self.decoder = MAEDecoder(
            grid_size=encoder.grid_size,
            patch_size=encoder.patch_size,
            in_chans=encoder.in_chans,
            encoder_dim=encoder.embed_dim,
            decoder_dim=decoder_dim,
            depth=decoder_depth,
            num_heads=decoder_heads,
            mlp_ratio=mlp_ratio,
        )
        self.mask_ratio = mask_ratio
        self.patch_size = encoder.patch_size
        self.num_patches = encoder.num_patches

    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """images: (B, C, H, W) -> (B, N, p*p*C)."""
        return patchify(images, self.patch_size)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """patches: (B, N, p*p*C) -> (B, C, H, W)."""
        return unpatchify(patches, self.patch_size)

    def forward(
        self,
        x: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
        mask_ratio: float | None = None,
    ) -> MAEOutput:
        """Mask, encode the kept patches, decode all patches.

        Args:
            x: (B, C, H, W) normalised images.
            generator: draws the masking noise (required unless ``noise`` is given).
            noise: (B, N) explicit masking noise.
            mask_ratio: overrides the model's default ratio.

        Returns:
            :class:`MAEOutput`.
        """
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        m = random_masking(x.shape[0], self.num_patches, ratio, generator=generator, noise=noise, device=x.device)
        latent = self.encoder.forward_masked(x, m.ids_keep)
        pred = self.decoder(latent, m.ids_restore)
        return MAEOutput(pred=pred, mask=m.mask, ids_keep=m.ids_keep, ids_restore=m.ids_restore, latent=latent)


def build_mae(cfg: MAEConfig) -> MaskedAutoencoder:
    """The :class:`MaskedAutoencoder` an :class:`~genfer.config.MAEConfig` describes."""
    return MaskedAutoencoder(
        encoder=build_vit(cfg.encoder, num_classes=0),
        decoder_dim=cfg.decoder_dim,
        decoder_depth=cfg.decoder_depth,
        decoder_heads=cfg.decoder_heads,
        mlp_ratio=cfg.encoder.mlp_ratio,
        mask_ratio=cfg.mask_ratio,
    )


__all__ = [
    "MAEDecoder",
    "MAEOutput",
    "MaskIndices",
    "MaskedAutoencoder",
    "build_mae",
    "num_kept",
    "patchify",
    "random_masking",
    "unpatchify",
]
