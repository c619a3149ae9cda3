"""Emotion score of expression transfer (latent emotion editing paper): does the result look like the target?

For a target-expression image T with recognizer probabilities ``p_T`` and the images ``S_1..S_N`` its
expression was transferred to, with probabilities ``p_i``:

    score    = mean_i cos(p_T, p_i)
    hit_rate = mean_i [argmax p_i == argmax p_T]

Pure functions of probability vectors; get them with e.g. ``Recognizer.predict_crops`` or
:func:`genfer.predict.predict_probs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class EmotionScore:
    """Mean cosine similarity, hit rate and the number of transferred images."""

    score: float
    hit_rate: float
    n: int


def emotion_score(target_probs: torch.Tensor, transferred_probs: torch.Tensor) -> EmotionScore:
    """Emotion score of transferred images against their target.

    Args:
        target_probs: (K,) one target for all, or (N, K) one target per transferred image.
        transferred_probs: (N, K) probabilities of the transferred images.
    """
    p = torch.as_tensor(transferred_probs, dtype=torch.float64)
    t = torch.as_tensor(target_probs, dtype=torch.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"transferred_probs must be (N, K) with N >= 1, not {tuple(p.shape)}")
    if t.ndim == 1 and t.shape[0] == p.shape[1]:
        t = t.unsqueeze(0).expand_as(p)
    if t.shape != p.shape:
        raise ValueError(f"target_probs must be (K,) or (N, K) matching {tuple(p.shape)}, not {tuple(t.shape)}")
    cos = F.cosine_similarity(t, p, dim=1)
    hits = (t.argmax(1) == p.argmax(1)).double()
    return EmotionScore(score=float(cos.mean()), hit_rate=float(hits.mean()), n=int(p.shape[0]))
