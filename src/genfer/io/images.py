"""Image tensor conventions: networks take (N, C, H, W) floats in [-1, 1]; files and crops are uint8."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def to_uint8_tensor(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] (any shape; values outside are clipped) -> uint8 tensor of the same shape."""
    return ((images.detach().clamp(-1, 1) + 1) * 127.5).round().byte()


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W) uint8 for C = 1, (N, H, W, 3) for C = 3 (the inverse of :func:`to_tensor`)."""
    arr = to_uint8_tensor(images).cpu()
    return arr[:, 0].numpy() if arr.shape[1] == 1 else arr.permute(0, 2, 3, 1).numpy()


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    """(N, H, W) or (N, H, W, 3) uint8 -> (N, C, H, W) float in [-1, 1]."""
    x = torch.as_tensor(np.asarray(crops))
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return normalize(x.float() / 255.0)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] images -> [-1, 1] network input (the convention of every genfer model)."""
    return images * 2.0 - 1.0

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as the recognizer's RGB -> gray conversion


def check_signed_unit_range(x: torch.Tensor, what: str, *, tol: float = 1e-3) -> None:
    """Raise ValueError unless every value of ``x`` lies in [-1, 1] (± tol)."""
    if x.numel() and (float(x.detach().min()) < -1 - tol or float(x.detach().max()) > 1 + tol):
        raise ValueError(f"{what} expects images in [-1, 1], got values in [{float(x.min()):.3g}, "
                         f"{float(x.max()):.3g}] (convert [0, 1] images with genfer.io.images.normalize)")


def match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, channels, H, W): RGB to luma, or gray repeated to RGB."""
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 3 and channels == 1:
        w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * w).sum(1, keepdim=True)
    if x.shape[1] == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    raise ValueError(f"images must have 1 or 3 channels, not {x.shape[1]}")


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear (antialiased) resize of (B, C, H, W) to (B, C, size, size), as genfer's inference does."""
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
