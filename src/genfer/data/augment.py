"""Batched, seeded augmentation of face crops, run on whole batches as tensor ops.

Random parameters are drawn for a *global* batch from one ``torch.Generator`` and then applied to any
slice of it, so several DDP ranks that each hold a slice of the batch augment exactly as one process
holding the whole batch would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genfer.config import AugmentConfig
from genfer.io.images import normalize


@dataclass
class AugmentParams:
    """Per-image random parameters for a batch of ``B`` images (all tensors have leading dim ``B``)."""

    flip: torch.Tensor  # (B,) bool
    angle: torch.Tensor  # (B,) radians
    scale: torch.Tensor  # (B,)
    shift: torch.Tensor  # (B, 2) in normalised [-1, 1] units
    brightness: torch.Tensor  # (B,) additive, in [0, 1] pixel units
    contrast: torch.Tensor  # (B,) multiplicative
    erase: torch.Tensor  # (B,) bool
    erase_box: torch.Tensor  # (B, 4) centre x, centre y, w, h as fractions of the side

    def slice(self, sl: slice) -> "AugmentParams":
        """Parameters of images ``sl`` of the batch."""
        return AugmentParams(**{k: v[sl] for k, v in vars(self).items()})


def sample_params(cfg: AugmentConfig, batch: int, generator: torch.Generator) -> AugmentParams:
    """Draw augmentation parameters for ``batch`` images."""

    def uniform(*shape: int, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * (high - low) + low

    return AugmentParams(
        flip=(torch.rand(batch, generator=generator) < 0.5) & cfg.hflip,
        angle=uniform(batch) * math.radians(cfg.rotate_deg),
        scale=1.0 + uniform(batch) * cfg.scale,
        shift=uniform(batch, 2) * cfg.shift * 2.0,
        brightness=uniform(batch) * cfg.brightness * 0.5,
        contrast=1.0 + uniform(batch) * cfg.contrast,
        erase=torch.rand(batch, generator=generator) < cfg.erase_prob,
        erase_box=torch.cat([uniform(batch, 2, low=0.2, high=0.8), uniform(batch, 2, low=0.15, high=0.4)], dim=1),
    )


def apply_augment(images: torch.Tensor, p: AugmentParams) -> torch.Tensor:
    """Augment a batch.

    Args:
        images: (B, C, H, W) float in [0, 1].
        p: parameters for these B images.

    Returns:
        (B, C, H, W) float in [0, 1]: flipped, rotated/scaled/shifted (border replicated),
        brightness/contrast jittered, and with a random rectangle erased to the image mean.
    """
    b, _, h, w = images.shape
    cos, sin = torch.cos(p.angle) / p.scale, torch.sin(p.angle) / p.scale
    sign = torch.where(p.flip, -1.0, 1.0)
    theta = torch.stack(
        [
            torch.stack([cos * sign, -sin, p.shift[:, 0]], dim=1),
            torch.stack([sin * sign, cos, p.shift[:, 1]], dim=1),
        ],
        dim=1,
    ).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * p.contrast.view(b, 1, 1, 1) + mean + p.brightness.view(b, 1, 1, 1)
    if p.erase.any():
        ys = torch.linspace(0, 1, h).view(1, h, 1)
        xs = torch.linspace(0, 1, w).view(1, 1, w)
        cx, cy, ew, eh = (p.erase_box[:, i].view(b, 1, 1) for i in range(4))
        inside = ((xs - cx).abs() < ew / 2) & ((ys - cy).abs() < eh / 2) & p.erase.view(b, 1, 1)
        out = torch.where(inside.unsqueeze(1), mean, out)
    return out.clamp_(0.0, 1.0)


def augmented_batch(
    images: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator, *, global_batch: int, local: slice
) -> torch.Tensor:
    """This rank's augmented, normalised training batch.

    Args:
        images: (b, C, H, W) uint8, this rank's ``local`` slice of a global batch of ``global_batch`` images.
        generator: draws the parameters of the whole global batch (so every rank draws the same ones).

    Returns:
        (b, C, H, W) float in [-1, 1].
    """
    params = sample_params(cfg, global_batch, generator).slice(local)
    return normalize(apply_augment(images.float().div_(255.0), params))
