"""GAN-inversion losses (pSp's Eq. 5 with IFER's weights) as pure functions of tensors and frozen networks.

For an input x, its reconstruction y = G(w) and W+ code w (all images (B, C, H, W) in [-1, 1]):

* ``L2 = mean (y − x)²`` over all elements;
* ``LPIPS = mean_b d(y_b, x_b)`` for a perceptual distance network d returning (B,);
* ``ID = mean_b (1 − cos(F(y_b), F(x_b)))`` for a face-identity embedder F (x's embedding not differentiated);
* ``L_reg = mean_b ‖w_b − w̄‖`` with the Frobenius norm over the (n_latent, D) code (pSp's ``WNormLoss``).

:func:`inversion_loss` combines them from (name, weight, function) terms; a zero weight skips a term.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from genfer.config import InversionLossWeights

__all__ = ["id_loss", "inversion_loss", "l2_loss", "perceptual_loss", "w_reg_loss"]

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Embedder = Callable[[torch.Tensor], torch.Tensor]


def l2_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements of y, x: (B, C, H, W)."""
    return F.mse_loss(y, x)


def perceptual_loss(distance: Distance, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Batch mean of a perceptual distance ``distance(y, x) -> (B,)`` (LPIPS or ``genfer-lpips``)."""
    return distance(y, x).mean()


def id_loss(embed: Embedder, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``mean_b (1 − cos(embed(y_b), embed(x_b)))``; gradients flow through y only."""
    with torch.no_grad():
        target = embed(x)
    return (1.0 - F.cosine_similarity(embed(y), target, dim=1)).mean()


def w_reg_loss(wplus: torch.Tensor, latent_avg: torch.Tensor) -> torch.Tensor:
    """``mean_b ‖w_b − w̄‖_F``; wplus (B, n_latent, D), latent_avg (D,) or (n_latent, D)."""
    return (wplus - latent_avg).flatten(1).norm(dim=1).mean()


def inversion_loss(
    y: torch.Tensor,
    x: torch.Tensor,
    wplus: torch.Tensor,
    latent_avg: torch.Tensor,
    *,
    weights: "InversionLossWeights",
    perceptual: Distance | None = None,
    identity: Embedder | None = None,
) -> dict[str, torch.Tensor]:
    """Weighted inversion loss of a batch: ``l2·L2 + lpips·LPIPS + id·ID + w_reg·L_reg``.

    Args:
        y: (B, C, H, W) reconstructions; x: the inputs (same shape).
        wplus: (B, n_latent, D) codes y was generated from; latent_avg: (D,).
        weights: an :class:`~genfer.config.InversionLossWeights`.
        perceptual: distance network, required when ``weights.lpips`` > 0.
        identity: embedder, required when ``weights.id`` > 0.

    Returns:
        The unweighted terms that were computed (``l2``, ``lpips``, ``id``, ``w_reg``) and ``total``.
    """
    if y.shape != x.shape:
        raise ValueError(f"reconstruction {tuple(y.shape)} and input {tuple(x.shape)} differ in shape")
    terms: list[tuple[str, float, Callable[[], torch.Tensor]]] = [
        ("l2", weights.l2, lambda: l2_loss(y, x)),
        ("lpips", weights.lpips, lambda: perceptual_loss(_need(perceptual, "lpips"), y, x)),
        ("id", weights.id, lambda: id_loss(_need(identity, "id"), y, x)),
        ("w_reg", weights.w_reg, lambda: w_reg_loss(wplus, latent_avg)),
    ]
    out: dict[str, torch.Tensor] = {}
    total = y.new_zeros(())
    for name, weight, fn in terms:
        if weight > 0:
            out[name] = fn()
            total = total + weight * out[name]
    out["total"] = total
    return out


def _need(net: Callable | None, term: str) -> Callable:
    if net is None:
        raise ValueError(f"the {term} term has a weight but no network was given")
    return net
