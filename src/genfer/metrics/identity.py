"""Identity similarity: cosine similarity of face-identity embeddings of source and edited faces.

The embedding network is pluggable: any ``nn.Module`` or callable mapping an image batch to ``(B, D)``
embeddings (until a face-recognition network ships with genfer, e.g. a recognizer's ``pooled_features``).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

Embedder = Callable[[torch.Tensor], torch.Tensor]


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity of embeddings a, b: (B, D) -> (B,)."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"embeddings must both be (B, D), not {tuple(a.shape)} and {tuple(b.shape)}")
    return F.cosine_similarity(a.double(), b.double(), dim=1, eps=1e-12)


@torch.no_grad()
def identity_similarity(embed: Embedder, source: torch.Tensor, edited: torch.Tensor, *,
                        batch_size: int = 64) -> torch.Tensor:
    """Per-pair identity similarity: ``embed`` applied to source and edited batches (same shape) -> (B,).

    The images are passed to ``embed`` as given (use the convention the embedder expects), ``batch_size``
    pairs at a time.
    """
    if source.shape != edited.shape:
        raise ValueError(f"source and edited batches differ in shape: {tuple(source.shape)} vs {tuple(edited.shape)}")
    return torch.cat([cosine_similarity(embed(source[i : i + batch_size]), embed(edited[i : i + batch_size]))
                      for i in range(0, len(source), batch_size)])
