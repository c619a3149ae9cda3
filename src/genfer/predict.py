"""Batched inference of a recognizer on aligned uint8 face crops."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from genfer.config import PRECISIONS
from genfer.io.images import normalize


@torch.inference_mode()
def predict_probs(
    model: torch.nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 64,
    image_size: int | None = None,
    hflip_tta: bool = False,
) -> torch.Tensor:
    """Class probabilities of aligned crops.

    Args:
        model: a recognizer returning logits (B, K); switched to eval mode.
        images: (N, C, H, W) uint8 (or float in [0, 1]) aligned face crops.
        image_size: resize to this side first if the crops differ.
        hflip_tta: average with the horizontally flipped crop.

    Returns:
        (N, K) float32 probabilities.
    """
    model.eval()
    device = next(model.parameters()).device
    return predict_probs_with(lambda x: model(x.to(device)), images, num_classes=getattr(model, "num_classes", 8),
                              batch_size=batch_size, image_size=image_size, hflip_tta=hflip_tta)


@torch.inference_mode()
def predict_probs_with(
    logits: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    *,
    num_classes: int,
    batch_size: int = 64,
    image_size: int | None = None,
    hflip_tta: bool = False,
) -> torch.Tensor:
    """:func:`predict_probs` with any network: ``logits(x)`` maps normalised crops (B, C, H, W) in [-1, 1] to
    (B, K) logits (a model, or a :mod:`genfer.runtime` backend's ``logits``)."""
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size]
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        if image_size and x.shape[-1] != image_size:
            x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
        x = normalize(x)
        z = logits(x)
        if hflip_tta:
            z = (z + logits(x.flip(-1))) / 2
        out.append(z.float().softmax(-1).cpu())
    return torch.cat(out) if out else torch.zeros(0, num_classes)


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ``ValueError``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    return precision


def autocast(device: torch.device | str, precision: str):
    """The context that runs a network in ``precision``: bfloat16 autocast on ``device``'s type, or nothing.

    bfloat16 is about twice as fast as float32 on CPUs with AMX or AVX-512 BF16 (and on GPUs); outputs differ at
    bfloat16's precision (a few grey levels in images)."""
    kind = torch.device(device).type
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=check_precision(precision) == "bfloat16")
