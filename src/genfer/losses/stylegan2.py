"""StyleGAN2's losses as pure functions: logistic GAN loss, R1 and path-length regularisation.

With D's logits ``r`` on real and ``f`` on generated images (softplus(t) = log(1 + e^t)):

* discriminator: ``L_D = mean softplus(f) + mean softplus(−r)``;
* generator (non-saturating): ``L_G = mean softplus(−f)``;
* R1: ``mean_i |∇_x D(x_i)|²`` over real images, weighted ``γ/2`` (and multiplied by the lazy interval);
* path length: ``a_i = |J_wᵀ y_i|``, the norm of the gradient of ``Σ G(w)·y`` with respect to W+ with
  ``y ~ N(0, I)/sqrt(H·W)``, summed over channels, averaged over W+ entries (rosinality's form
  ``sqrt(mean_k Σ_d g²)``); the penalty is ``mean (a_i − ā)²`` with the running mean
  ``ā ← ā + decay·(mean a − ā)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "d_logistic_loss",
    "g_nonsaturating_loss",
    "path_length_penalty",
    "path_lengths",
    "r1_penalty",
]


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator logistic loss ``mean softplus(f) + mean softplus(−r)``; logits (B, 1) or (B,)."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``mean softplus(−f)``; logits (B, 1) or (B,)."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """``mean_i |∇_{x_i} D(x_i)|²`` (unweighted), differentiable for D's update.

    Args:
        real_logits: (B, 1) D(x) computed from ``real_images``.
        real_images: (B, C, H, W) with ``requires_grad=True``.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def path_lengths(images: torch.Tensor, latents: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Per-sample path lengths ``sqrt(mean_k Σ_d (∂ Σ(G·y)/∂w_kd)²)``, differentiable for G's update.

    Args:
        images: (B, C, H, W) generated from ``latents``.
        latents: (B, n_latent, D) W+ codes the images were generated from (part of the graph).
        noise: (B, C, H, W) N(0, 1) draws; scaled here by ``1/sqrt(H·W)``.

    Returns:
        (B,).
    """
    h, w = images.shape[-2:]
    (grad,) = torch.autograd.grad((images * noise / math.sqrt(h * w)).sum(), latents, create_graph=True)
    return grad.pow(2).sum(2).mean(1).sqrt()


def path_length_penalty(lengths: torch.Tensor, mean_length: float, *, decay: float,
                        batch_mean: float | None = None) -> tuple[torch.Tensor, float]:
    """Path-length penalty and the updated running mean.

    Args:
        lengths: (B,) from :func:`path_lengths`.
        mean_length: running mean ā before this batch (0 at the start).
        decay: update rate of ā (0.01 in StyleGAN2).
        batch_mean: mean a over the whole global batch (under DDP, the all-rank average), default
            ``lengths.mean()``.

    Returns:
        ``(mean (a − ā')², ā')`` with ``ā' = ā + decay·(mean a − ā)`` (ā' as a float, not differentiated).
    """
    observed = float(lengths.detach().mean()) if batch_mean is None else float(batch_mean)
    new_mean = mean_length + decay * (observed - mean_length)
    return (lengths - new_mean).pow(2).mean(), new_mean
