"""Losses of the switch-unit GAN (Zhang, Zhang & Xu, TCSVT 2021, Eq. 5-12).

Pure functions of tensors (and of a frozen feature network passed in). Conventions:

* Discriminator outputs are *logits* (one list entry per scale, D_1 then D_2); D(I, y) = sigmoid(logit).
  ``-log D = softplus(-logit)`` and ``-log(1 - D) = softplus(logit)`` are used for numerical stability.
* An expectation E[.] is a mean over the batch; a norm ||.|| of an image (or feature map) is taken
  per sample over all its elements, as written in the paper, and then averaged over the batch
  (``reduction="sum"`` / ``"norm"``). ``reduction="mean"`` (and ``"mse"`` for L_r) divides by the number of
  elements instead, a documented alternative that makes the weights independent of image size; it is
  not the paper's.

Images are (B, C, H, W). Eq. 12's weights are :class:`~genfer.config.SwitchGANLossWeights` (λ1..λ4 = 10, 15,
5, 5; a config section of ``genfer train switchgan``, re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Literal

import torch
import torch.nn.functional as F

from genfer.config.switchgan import SwitchGANLossWeights

FeatureFn = Callable[[torch.Tensor], Sequence[torch.Tensor]]


def _as_list(logits: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    out = [logits] if isinstance(logits, torch.Tensor) else list(logits)
    if not out:
        raise ValueError("need the logits of at least one discriminator")
    return out


def _check_same(*xs: torch.Tensor, names: str) -> None:
    shape = xs[0].shape
    if any(x.shape != shape for x in xs) or xs[0].dim() < 2:
        raise ValueError(f"{names} must share one (B, ...) shape, got {[tuple(x.shape) for x in xs]}")


def _per_sample(x: torch.Tensor) -> torch.Tensor:
    """(B, ...) -> (B, N)."""
    return x.reshape(x.shape[0], -1)


def _l1(x: torch.Tensor, reduction: str) -> torch.Tensor:
    """Batch mean of the per-sample ℓ1 norm (``sum``) or the mean absolute value (``mean``)."""
    if reduction == "sum":
        return _per_sample(x).abs().sum(dim=1).mean()
    if reduction == "mean":
        return x.abs().mean()
    raise ValueError(f"reduction must be 'sum' or 'mean', not {reduction!r}")


# ----------------------------------------------------------------------------- Eq. 5, 7: adversarial


def adversarial_d_loss(
    real_logits: torch.Tensor | Sequence[torch.Tensor],
    fake_logits: torch.Tensor | Sequence[torch.Tensor],
) -> torch.Tensor:
    """Discriminator side of L_adv, Eq. 5, as a loss to minimise.

    ``sum_s ( E[-log D_s(I, y)] + E[-log(1 - D_s(G(I, y), y))] )`` over the scales s (D_1, D_2), i.e.
    the negative of what D maximises. Real faces are conditioned on their labels, generated ones on their
    target labels (done by the caller when it computes the logits).

    Args:
        real_logits: per scale, logits (B_r,) or (B_r, 1) of real faces.
        fake_logits: per scale, logits (B_f,) or (B_f, 1) of generated faces (detached from G).

    Returns:
        Scalar.
    """
    reals, fakes = _as_list(real_logits), _as_list(fake_logits)
    if len(reals) != len(fakes):
        raise ValueError(f"{len(reals)} real and {len(fakes)} fake discriminator outputs")
    return sum(F.softplus(-r).mean() + F.softplus(f).mean() for r, f in zip(reals, fakes))


def adversarial_g_loss(
    fake_logits: torch.Tensor | Sequence[torch.Tensor],
    *,
    saturating: bool = False,
) -> torch.Tensor:
    """Generator side of L_adv, Eq. 5.

    Eq. 5 has G minimise ``sum_s E[log(1 - D_s(G(I, y), y))]`` (``saturating=True``). The default is the
    non-saturating form ``sum_s E[-log D_s(G(I, y), y)]`` that ELEGANT (the paper's base) trains with and
    that has the same fixed point but useful gradients early on.

    Args:
        fake_logits: per scale, logits of generated faces given their target labels.
        saturating: use the literal minimax term.

    Returns:
        Scalar.
    """
    fakes = _as_list(fake_logits)
    if saturating:
        return sum(-F.softplus(f).mean() for f in fakes)
    return sum(F.softplus(-f).mean() for f in fakes)


def interpolation_d_loss(
    fake_logits_c: torch.Tensor | Sequence[torch.Tensor],
    fake_logits_d: torch.Tensor | Sequence[torch.Tensor],
) -> torch.Tensor:
    """Discriminator side of L_inter, Eq. 7: D calls the faces decoded from interpolated codes fake.

    ``L_inter = l_inter([R_c^p, R_a, S_c]) + l_inter([R_d^p, R_b, S_d])`` with, for D,
    ``l_inter = sum_s E[-log(1 - D_s(G_dec(x), y_target))]``. (Eq. 7 prints log D and log(1 - D) of the
    same fake; the text says D classifies these faces as fake and G as real, which is what is done. The
    real-face term is already in L_adv.)

    Args:
        fake_logits_c, fake_logits_d: per scale, logits of the faces from R_c^p (target y^j) and R_d^p
            (target y^i), detached from G.
    """
    return (sum(F.softplus(f).mean() for f in _as_list(fake_logits_c))
            + sum(F.softplus(f).mean() for f in _as_list(fake_logits_d)))


def interpolation_g_loss(
    fake_logits_c: torch.Tensor | Sequence[torch.Tensor],
    fake_logits_d: torch.Tensor | Sequence[torch.Tensor],
    *,
    saturating: bool = False,
) -> torch.Tensor:
    """Generator side of L_inter, Eq. 7: G wants the interpolated faces called real for their target.

    ``adversarial_g_loss(c) + adversarial_g_loss(d)`` (the two l_inter terms are summed, Eq. 7).
    """
    return (adversarial_g_loss(fake_logits_c, saturating=saturating)
            + adversarial_g_loss(fake_logits_d, saturating=saturating))


# ----------------------------------------------------------------------------- Eq. 8: classification


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_C, Eq. 8: softmax cross-entropy E[-log softmax(FC([VGG(I), G_enc(I)]))_{y^e}].

    logits: (B, n); labels: (B,) long. Batch mean. (Eq. 8 prints one minus sign too many; the text says
    "a typical softmax cross-entropy loss", which this is.)
    """
    return F.cross_entropy(logits, labels)


# ----------------------------------------------------------------------------- Eq. 9-11: image losses


def reconstruction_loss(
    real_a: torch.Tensor,
    recon_a: torch.Tensor,
    real_b: torch.Tensor,
    recon_b: torch.Tensor,
    *,
    reduction: Literal["norm", "mse"] = "norm",
) -> torch.Tensor:
    """L_r, Eq. 9: ``||I_a - I'_a||_2 + ||I_b - I'_b||_2``.

    ``"norm"`` (the paper): the Euclidean norm (not squared) of each sample's difference over all its
    C x H x W pixels, averaged over the batch, for a and for b, summed. ``"mse"``: mean squared error of
    each pair instead (ELEGANT's reconstruction criterion), summed over a and b.

    Args:
        real_a, recon_a, real_b, recon_b: (B, C, H, W).
    """
    _check_same(real_a, recon_a, real_b, recon_b, names="I_a, I'_a, I_b, I'_b")
    if reduction == "norm":
        return sum(torch.linalg.vector_norm(_per_sample(x - y), dim=1).mean()
                   for x, y in ((real_a, recon_a), (real_b, recon_b)))
    if reduction == "mse":
        return F.mse_loss(recon_a, real_a) + F.mse_loss(recon_b, real_b)
    raise ValueError(f"reduction must be 'norm' or 'mse', not {reduction!r}")


def pixel_sum_loss(
    real_a: torch.Tensor,
    real_b: torch.Tensor,
    fake_c: torch.Tensor,
    fake_d: torch.Tensor,
    *,
    form: Literal["pixelwise", "norms"] = "pixelwise",
    reduction: Literal["sum", "mean"] = "sum",
) -> torch.Tensor:
    """L_p, Eq. 10: the pixels of I_a + I_b and of I_c + I_d should sum to the same.

    Eq. 10 prints ``||I_a + I_b||_1 - ||I_c + I_d||_1``, which is unbounded below (minimising it would
    push the generated faces to saturate), so it is read as a distance:

    * ``"pixelwise"`` (default): ``||(I_a + I_b) - (I_c + I_d)||_1``, per-sample ℓ1 norm over all pixels
      (``reduction="sum"``, batch mean) or mean absolute value (``"mean"``). Since I_c = I_a + res_c and
      I_d = I_b + res_d, this asks the two residuals to cancel pixel by pixel: what one face loses, the
      other gains.
    * ``"norms"``: ``| ||I_a + I_b||_1 - ||I_c + I_d||_1 |``, the printed difference made non-negative
      (per sample, batch mean; ``"mean"`` divides both norms by the number of elements).

    Args:
        real_a, real_b: I_a, I_b (B, C, H, W); fake_c, fake_d: I_c, I_d (B, C, H, W).
    """
    _check_same(real_a, real_b, fake_c, fake_d, names="I_a, I_b, I_c, I_d")
    before, after = real_a + real_b, fake_c + fake_d
    if form == "pixelwise":
        return _l1(before - after, reduction)
    if form == "norms":
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', not {reduction!r}")
        agg = (lambda t: t.sum(dim=1)) if reduction == "sum" else (lambda t: t.mean(dim=1))
        return (agg(_per_sample(before).abs()) - agg(_per_sample(after).abs())).abs().mean()
    raise ValueError(f"form must be 'pixelwise' or 'norms', not {form!r}")


def spatial_mean(feature_map: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) (or any (B, C, ...)) -> (B, C): each channel averaged over its positions; (B, C) unchanged."""
    if feature_map.dim() < 2:
        raise ValueError(f"a feature map must be (B, C, ...), not {tuple(feature_map.shape)}")
    return feature_map.flatten(2).mean(2) if feature_map.dim() > 2 else feature_map


def feature_l1(
    features: FeatureFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    reduction: Literal["sum", "mean"] = "sum",
    pooled: bool = False,
) -> torch.Tensor:
    """``sum_i ||F_i(x) - F_i(y)||_1`` over the layers F_i of a feature network (one pair of Eq. 11).

    ``features`` is called once on the stacked batch [x; y] (a frozen network in eval mode: its
    parameters need no gradient, the gradient still reaches y and x) and returns a list of maps
    (2B, ...). Per-layer ℓ1 as :func:`pixel_sum_loss`'s ``reduction``. ``pooled``: compare each layer's
    channel means (:func:`spatial_mean`, (B, C)) instead of its maps, i.e. *what* features a face has,
    not *where* (see :func:`perceptual_loss`).
    """
    _check_same(x, y, names="the two images")
    b = x.shape[0]
    maps = list(features(torch.cat([x, y])))
    if not maps:
        raise ValueError("the feature network returned no feature maps")
    if pooled:
        maps = [spatial_mean(m) for m in maps]
    return sum(_l1(m[:b] - m[b:], reduction) for m in maps)


def perceptual_loss(
    features: FeatureFn,
    real_a: torch.Tensor,
    real_b: torch.Tensor,
    fake_c: torch.Tensor,
    fake_d: torch.Tensor,
    *,
    pairing: Literal["paper", "source"] = "paper",
    reduction: Literal["sum", "mean"] = "sum",
    pooled: bool = False,
) -> torch.Tensor:
    """L_per, Eq. 11: ``sum_i [ ||F_i(I_a) - F_i(I_d)||_1 + ||F_i(I_b) - F_i(I_c)||_1 ]``.

    F_i are the layers of a frozen pretrained network (the paper: ImageNet VGG; genfer passes its own
    network, named in the config). ℓ1 is the per-sample sum of absolute differences over a layer's
    elements, averaged over the batch (``reduction="sum"``; ``"mean"``: mean absolute difference).

    ``pairing="paper"`` compares each original with the *other* face's transfer as printed: I_a with
    I_d (I_b given I_a's expression) and I_b with I_c. ``pairing="source"`` compares each transfer with
    its own source instead (I_a with I_c, I_b with I_d), an identity-preservation reading.

    ``pooled`` compares the layers' channel means (:func:`spatial_mean`) instead of their maps. With the
    paper's pairing, the maps of an early layer are a picture of the *other* person's face: matching them
    asks I_c to carry I_b's contours, and the cheapest way there is to blend I_b into I_c (the ghosts of
    docs/switchgan.md: on the crossfade I_c = (1 - k) I_a + k I_b, I_d = (1 - k) I_b + k I_a, the
    map-wise loss falls steadily from its maximum at k = 0 to 0 at k = 1). Channel means keep which
    features (expression cues) the reference shows, not where its contours lie.

    Args:
        features: callable (N, C, H, W) -> list of feature maps (N, ...).
        real_a, real_b: I_a, I_b; fake_c, fake_d: I_c, I_d; all (B, C, H, W).
    """
    if pairing == "paper":
        pairs = ((real_a, fake_d), (real_b, fake_c))
    elif pairing == "source":
        pairs = ((real_a, fake_c), (real_b, fake_d))
    else:
        raise ValueError(f"pairing must be 'paper' or 'source', not {pairing!r}")
    _check_same(real_a, real_b, fake_c, fake_d, names="I_a, I_b, I_c, I_d")
    return sum(feature_l1(features, x, y, reduction=reduction, pooled=pooled) for x, y in pairs)


def total_variation(images: torch.Tensor, *, reduction: Literal["sum", "mean"] = "sum") -> torch.Tensor:
    """TV of Eq. 12 (the paper gives no formula): anisotropic ℓ1 total variation.

    ``sum_{c,h,w} |x[c,h+1,w] - x[c,h,w]| + sum_{c,h,w} |x[c,h,w+1] - x[c,h,w]|`` per image, averaged over
    the batch (``"sum"``); ``"mean"`` averages each of the two difference maps over its elements instead.

    images: (B, C, H, W) -> scalar. Apply it to what G generates: the residual images of Eq. 4 (G_dec's output,
    ``tv(I_c^res) + tv(I_d^res)``: a ghost of the other face is a set of edges in the residual, while the
    source's own edges cost nothing) or the composed faces ``tv(I_c) + tv(I_d)`` (which also charges the
    face's own edges and so rewards blur).
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W), not {tuple(images.shape)}")
    dh = images[:, :, 1:, :] - images[:, :, :-1, :]
    dw = images[:, :, :, 1:] - images[:, :, :, :-1]
    if reduction == "sum":
        return _per_sample(dh).abs().sum(1).mean() + _per_sample(dw).abs().sum(1).mean()
    if reduction == "mean":
        zero = images.new_zeros(())
        return (dh.abs().mean() if dh.numel() else zero) + (dw.abs().mean() if dw.numel() else zero)
    raise ValueError(f"reduction must be 'sum' or 'mean', not {reduction!r}")


# ----------------------------------------------------------------------------- Eq. 12: the objective


LOSS_TERMS: tuple[str, ...] = tuple(f.name for f in fields(SwitchGANLossWeights))


def combine_losses(
    terms: Mapping[str, torch.Tensor],
    weights: SwitchGANLossWeights = SwitchGANLossWeights(),
) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 12: the weighted sum of the given terms, and a dict for logging.

    Args:
        terms: scalar tensors keyed by the names of :class:`SwitchGANLossWeights` (adv, inter, cls, rec,
            per, pix, tv); absent terms (ablations, the D step) contribute nothing. Terms of weight 0
            are logged but not added.
        weights: the weights.

    Returns:
        total (scalar tensor, differentiable) and ``{name: unweighted value, ..., "total": value}`` (floats).
    """
    unknown = sorted(set(terms) - set(LOSS_TERMS))
    if unknown:
        raise ValueError(f"unknown loss terms {unknown}; known: {list(LOSS_TERMS)}")
    if not terms:
        raise ValueError("no loss terms given")
    w = weights.as_dict()
    total = None
    logs: dict[str, float] = {}
    for name in LOSS_TERMS:
        if name not in terms:
            continue
        value = terms[name]
        if value.dim() != 0:
            raise ValueError(f"loss term {name} must be a scalar, not {tuple(value.shape)}")
        logs[name] = float(value.detach())
        if w[name] == 0.0:
            continue
        part = w[name] * value
        total = part if total is None else total + part
    if total is None:
        total = next(iter(terms.values())).new_zeros(())
    logs["total"] = float(total.detach())
    return total, logs


__all__ = [
    "LOSS_TERMS", "SwitchGANLossWeights", "adversarial_d_loss", "adversarial_g_loss", "classification_loss",
    "combine_losses", "feature_l1", "interpolation_d_loss", "interpolation_g_loss", "perceptual_loss",
    "pixel_sum_loss", "reconstruction_loss", "spatial_mean", "total_variation",
]
