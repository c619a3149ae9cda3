"""PF-ViT's losses (paper Eqs. 2 and 5–8) as pure functions of tensors.

Notation: K emotions, ``c`` the neutral class index, images x (real), x̂ (reconstruction from V_e + V_p),
x̃ (poker face from V_p). Batch means stand for the expectations 𝔼.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

REAL, RECONSTRUCTION, POKER = "real", "reconstruction", "poker"
"""The three kinds of discriminator input x' ∈ {x, x̂, x̃} of Eq. 7."""


def emotion_loss(logits: torch.Tensor, target: torch.Tensor, *, label_smoothing: float = 0.0) -> torch.Tensor:
    """L_emo (Eq. 5): cross-entropy of C(V_e) against the labels, averaged over the batch.

    Args:
        logits: (B, K) C(V_e).
        target: (B,) class indices, or (B, K) class probabilities (e.g. FERPlus vote distributions).
        label_smoothing: 0 in the paper.
    """
    return F.cross_entropy(logits, target, label_smoothing=label_smoothing)


def reconstruction_loss(
    x_hat: torch.Tensor, x_tilde: torch.Tensor, x: torch.Tensor, labels: torch.Tensor, *, neutral: int
) -> torch.Tensor:
    """L_rec (Eq. 6): ``𝔼 ‖x̂ − x‖₂ + 𝔼 𝟙[y = c] ‖x̃ − x‖₂``.

    ‖·‖₂ is the Euclidean norm of each image's difference (not squared, not averaged over pixels); both
    expectations are means over the whole batch (non-neutral images contribute 0 to the second).

    Args:
        x_hat, x_tilde, x: (B, C, H, W) reconstruction, poker face and input.
        labels: (B,) class indices.
        neutral: c, the neutral class index.
    """
    rec = (x_hat - x).flatten(1).norm(dim=1)
    poker = (x_tilde - x).flatten(1).norm(dim=1) * (labels == neutral).to(x.dtype)
    return rec.mean() + poker.mean()


def discriminator_targets(labels: torch.Tensor, kind: str, *, num_classes: int, neutral: int,
                          real: float | None = None) -> torch.Tensor:
    """The (K + 1)-dimensional targets d of Eq. 8 for D's outputs.

    ``d^k = 𝟙[c = k]`` for a poker face x̃ and ``𝟙[y = k]`` otherwise (k ≤ K); ``d^{K+1} = 1`` for a real
    image and 0 for a generated one.

    Args:
        labels: (B,) class indices y.
        kind: ``"real"`` (x), ``"reconstruction"`` (x̂) or ``"poker"`` (x̃).
        num_classes: K.
        neutral: c.
        real: overrides ``d^{K+1}`` (the generator side asks D to call its images real: ``real=1``).

    Returns:
        (B, K + 1) float targets.
    """
    if kind not in (REAL, RECONSTRUCTION, POKER):
        raise ValueError(f"kind must be 'real', 'reconstruction' or 'poker', not {kind!r}")
    cls = torch.full_like(labels, neutral) if kind == POKER else labels
    d = torch.zeros(labels.shape[0], num_classes + 1, device=labels.device)
    d[torch.arange(labels.shape[0], device=labels.device), cls] = 1.0
    d[:, num_classes] = (1.0 if kind == REAL else 0.0) if real is None else real
    return d


def discrimination_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """L_dis for one kind of input (Eq. 7): ``−𝔼 Σ_k [d^k log σ(D(x')_k) + (1 − d^k) log(1 − σ(D(x')_k))]``.

    The sum runs over all K + 1 units; the expectation is the batch mean. Eq. 7's total is the sum of
    this over x, x̂ and x̃.

    Args:
        logits: (B, K + 1) D(x').
        targets: (B, K + 1) from :func:`discriminator_targets`.
    """
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(dim=1).mean()


def abs_cosine(a: torch.Tensor, b: torch.Tensor, *, eps: float = 1e-8) -> torch.Tensor:
    """``|⟨a, b⟩| / (‖a‖₂ ‖b‖₂)`` per sample over all non-batch dims, averaged over the batch.

    With token matrices a = V_e, b = V_p (B, 1+N, L) it is Eq. 2's constraint ``|V_e V_pᵀ| / (‖V_e‖₂ ‖V_p‖₂)``
    with each matrix flattened to one vector; with feature vectors (B, F) it is the absolute cosine
    similarity of the features.
    """
    a, b = a.flatten(1), b.flatten(1)
    cos = (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(eps)
    return cos.abs().mean()


__all__ = [
    "POKER",
    "REAL",
    "RECONSTRUCTION",
    "abs_cosine",
    "discrimination_loss",
    "discriminator_targets",
    "emotion_loss",
    "reconstruction_loss",
]
