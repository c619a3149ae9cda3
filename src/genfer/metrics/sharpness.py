"""Sharpness of images: the variance of the Laplacian, and its ratio between outputs and their inputs.

A blurred output (or one that averages two misaligned faces) has less high-frequency energy than its input:
``var(Laplacian(output)) / var(Laplacian(input))`` below 1 measures how much detail a generator lost.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LAPLACIAN_3X3 = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))
"""The 4-neighbour Laplacian kernel (OpenCV's ``cv2.Laplacian`` with ``ksize=1``)."""


def laplacian_variance(images: torch.Tensor) -> torch.Tensor:
    """Variance of the Laplacian of each image: (B, C, H, W) in [-1, 1] -> (B,).

    Images are converted to grey levels 0..255 (the mean over channels of ``(x + 1) * 127.5``, clamped), the
    3x3 Laplacian is taken at every interior pixel (no padding: (H - 2) x (W - 2) values) and their population
    variance returned.
    """
    if images.dim() != 4 or min(images.shape[-2:]) < 3:
        raise ValueError(f"images must be (B, C, H, W) with H, W >= 3, not {tuple(images.shape)}")
    grey = (images.double().clamp(-1.0, 1.0) + 1.0).mul(127.5).mean(1, keepdim=True)
    kernel = torch.tensor(LAPLACIAN_3X3, dtype=grey.dtype, device=grey.device)[None, None]
    return F.conv2d(grey, kernel).flatten(1).var(1, unbiased=False)


def laplacian_ratio(outputs: torch.Tensor, inputs: torch.Tensor, *, eps: float = 1e-9) -> torch.Tensor:
    """Per pair ``var(Laplacian(output)) / var(Laplacian(input))``: (B, C, H, W) each, in [-1, 1] -> (B,)."""
    if outputs.shape != inputs.shape:
        raise ValueError(f"outputs {tuple(outputs.shape)} and inputs {tuple(inputs.shape)} differ in shape")
    return laplacian_variance(outputs) / laplacian_variance(inputs).clamp_min(eps)


__all__ = ["LAPLACIAN_3X3", "laplacian_ratio", "laplacian_variance"]
