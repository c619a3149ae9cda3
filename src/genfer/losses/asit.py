"""ASIT's losses as pure functions (Mao et al., Eqs. 3 and 4).

Image inversion discriminator, least squares with a = 1, b = −1 (cosine outputs lie in [−1, 1]):

* ``L_D = mean_x ((D(x, x) − a)² + (D(y, x) − b)²)``: two views of the same source → 1, inversion and source → −1;
* ``L_E = mean_x (D(y, x) − a)²``: the encoder wants its inversion judged like the source.

Distribution alignment over n (encoder layer, generator layer) pairs, for a batch of B ≥ 3 images:

* ``P_i(a, ·) = softmax_{b ≠ a} sim(f_i(a), f_i(b))`` per image a (a distribution over the B − 1 others), for the
  encoder's features e_i (E_dis) and the generator's g_i (G_dis); sim is the dot product of the flattened features
  (of the L2-normalised features with ``normalize``);
* ``L_alig = Σ_i mean_a D_KL(E_dis_i(a) ‖ G_dis_i(a)) = Σ_i mean_a Σ_b E(a, b)·(log E(a, b) − log G(a, b))``.

The generator's distributions are the teacher's: they are detached (the frozen generator's features still depend
on the encoder's codes; DAL moves the encoder's features, not the codes, towards them).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["IID_FAKE", "IID_REAL", "dal_loss", "iid_d_loss", "iid_e_loss", "similarity_log_distribution"]

IID_REAL = 1.0
"""a: the target of D(x, x) for D and of D(y, x) for the encoder."""
IID_FAKE = -1.0
"""b: the target of D(y, x) for D."""


def iid_d_loss(d_same: torch.Tensor, d_inverted: torch.Tensor) -> torch.Tensor:
    """``mean (D(x, x) − 1)² + (D(y, x) + 1)²`` from the (B,) outputs on (source, source) and (inversion, source)."""
    return ((d_same - IID_REAL) ** 2 + (d_inverted - IID_FAKE) ** 2).mean()


def iid_e_loss(d_inverted: torch.Tensor) -> torch.Tensor:
    """``mean (D(y, x) − 1)²`` from the (B,) outputs on (inversion, source)."""
    return ((d_inverted - IID_REAL) ** 2).mean()


def similarity_log_distribution(features: torch.Tensor, *, normalize: bool = True) -> torch.Tensor:
    """Row a: log-softmax over b ≠ a of ``sim(f(a), f(b))`` for features (B, ...) -> (B, B − 1) (b in batch order,
    a skipped)."""
    b = features.shape[0]
    if b < 2:
        raise ValueError(f"a similarity distribution needs a batch of >= 2 images, got {b}")
    flat = features.flatten(1)
    if normalize:
        flat = F.normalize(flat, dim=1)
    sims = flat @ flat.T
    off_diagonal = ~torch.eye(b, dtype=torch.bool, device=sims.device)
    return sims[off_diagonal].reshape(b, b - 1).log_softmax(dim=1)


def dal_loss(encoder_features: Sequence[torch.Tensor], generator_features: Sequence[torch.Tensor], *,
             normalize: bool = True) -> torch.Tensor:
    """Eq. 4 summed over the paired layers; feature maps (B, C_i, H_i, W_i) of each side (channels may differ)."""
    if len(encoder_features) != len(generator_features) or not encoder_features:
        raise ValueError(f"DAL pairs layers: got {len(encoder_features)} encoder and {len(generator_features)} "
                         "generator feature maps")
    total = encoder_features[0].new_zeros(())
    for e, g in zip(encoder_features, generator_features):
        log_e = similarity_log_distribution(e, normalize=normalize)
        log_g = similarity_log_distribution(g.detach(), normalize=normalize)
        total = total + (log_e.exp() * (log_e - log_g)).sum(dim=1).mean()
    return total
