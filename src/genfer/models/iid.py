"""ASIT's image inversion discriminator (IID; Mao et al., Fig. 5, Eqs. 1 and 3).

A siamese pair of feature extractors, m_q (trained) and m_k (its momentum copy, no gradients), both the feature
layers of a StyleGAN2 discriminator (the 1×1 input layer and the residual blocks down to 4×4; not the minibatch
standard deviation or the final layers, which judge realness). Its output for a judged image u and a reference x is
``D(u, x) = cos(m_q(φ_q(u)), m_k(φ_k(x)))`` on the flattened 4×4 features, with an "unbalanced" augmentation φ:
the judged side gets a random flip, shift and brightness/contrast change, the reference side only a flip
(:func:`unbalanced_augment`). m_k follows m_q by ``θ_k = a·θ_k + (1 − a)·θ_q`` (:meth:`momentum_update`).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from genfer.models.stylegan2 import Discriminator

__all__ = ["InversionDiscriminator", "momentum_update", "unbalanced_augment"]


@torch.no_grad()
def momentum_update(target: nn.Module, source: nn.Module, momentum: float) -> None:
    """Eq. 1: every parameter ``θ_k ← a·θ_k + (1 − a)·θ_q`` of ``target`` (k) from ``source`` (q), a = momentum."""
    for pk, pq in zip(target.parameters(), source.parameters(), strict=True):
        pk.mul_(momentum).add_(pq.detach(), alpha=1.0 - momentum)


def unbalanced_augment(x: torch.Tensor, rng: torch.Generator, *, shift: float = 0.0, brightness: float = 0.0,
                       contrast: float = 0.0) -> torch.Tensor:
    """A random augmentation of each image of x (B, C, S, S) in [-1, 1], differentiable in x.

    Per image: a horizontal flip with probability ½; an integer shift of up to ``round(shift·S)`` pixels in each
    direction (edge pixels repeated); ``x ← m + (x − m)·c + β`` with m the image's mean, c uniform in
    [1 − contrast, 1 + contrast] and β uniform in [−brightness, brightness]. Zero ranges skip a draw, so
    φ_k = ``unbalanced_augment(x, rng)`` is a random flip alone.
    """
    b, _, s, _ = x.shape
    dev = rng.device
    flip = torch.rand(b, generator=rng, device=dev) < 0.5
    out = torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)
    pad = round(shift * s)
    if pad:
        offsets = torch.randint(0, 2 * pad + 1, (b, 2), generator=rng, device=dev).tolist()
        padded = F.pad(out, (pad, pad, pad, pad), mode="replicate")
        out = torch.stack([padded[i, :, dy : dy + s, dx : dx + s] for i, (dy, dx) in enumerate(offsets)])
    if contrast:
        c = 1.0 + contrast * (2 * torch.rand(b, generator=rng, device=dev) - 1)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = mean + (out - mean) * c.to(x.device)[:, None, None, None]
    if brightness:
        out = out + (brightness * (2 * torch.rand(b, generator=rng, device=dev) - 1)).to(x.device)[:, None, None, None]
    return out


class InversionDiscriminator(nn.Module):
    """IID: ``D(u, x) = cos(m_q(φ_q(u)), m_k(φ_k(x)))`` (see the module docstring).

    Args:
        features: the feature layers m_q starts from (e.g. a StyleGAN2 discriminator's ``convs``); m_k is a copy.
        shift, brightness, contrast: the ranges of the judged side's augmentation φ_q.

    Shapes: ``forward(u: (B, C, S, S), x: (B, C, S, S), rng) -> (B,)`` in [−1, 1].
    """

    def __init__(self, *, features: nn.Module, shift: float = 0.125, brightness: float = 0.2,
                 contrast: float = 0.2) -> None:
        super().__init__()
        self.m_q = features
        self.m_k = copy.deepcopy(features).requires_grad_(False)
        self.shift, self.brightness, self.contrast = shift, brightness, contrast

    @classmethod
    def from_discriminator(cls, d: Discriminator, **augment: float) -> InversionDiscriminator:
        """m_q and m_k from a StyleGAN2 discriminator's feature layers (its ``convs``, shared with ``d``)."""
        return cls(features=d.convs, **augment)

    def momentum_update(self, momentum: float) -> None:
        """Eq. 1 on m_k from m_q."""
        momentum_update(self.m_k, self.m_q, momentum)

    def embed_query(self, u: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """m_q(φ_q(u)) flattened: (B, F)."""
        aug = unbalanced_augment(u, rng, shift=self.shift, brightness=self.brightness, contrast=self.contrast)
        return self.m_q(aug).flatten(1)

    def embed_key(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """m_k(φ_k(x)) flattened, without gradients: (B, F)."""
        with torch.no_grad():
            return self.m_k(unbalanced_augment(x, rng)).flatten(1)

    def forward(self, u: torch.Tensor, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """D(u, x): judged images u and references x, both (B, C, S, S); the draws of φ come from ``rng``."""
        return F.cosine_similarity(self.embed_query(u, rng), self.embed_key(x, rng), dim=1)
