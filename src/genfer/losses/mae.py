"""The MAE reconstruction loss: mean squared error on the (normalised) pixels of masked patches only."""

from __future__ import annotations

import torch


def patch_stats(target: torch.Tensor, *, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-patch mean and standard deviation, as MAE's ``norm_pix_loss`` uses them.

    Args:
        target: (B, N, P) patch pixels (:func:`genfer.models.mae.patchify`).
        eps: added to the variance.

    Returns:
        mean (B, N, 1) and std = sqrt(var + eps) (B, N, 1), var being the *unbiased* variance over the
        P values of a patch (``torch.var``'s default, as in MAE's reference code).
        ``pred * std + mean`` maps normalised predictions back to pixels (reconstruction grids).
    """
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True)
    return mean, (var + eps).sqrt()


def mae_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    *,
    norm_pix: bool = True,
    eps: float = 1e-6,
) -> torch.Tensor:
    """MAE loss.

    ``t = (target - mean) / sqrt(var + eps)`` per patch if ``norm_pix`` else ``target``;
    ``l_n = mean_P (pred_n - t_n)²`` per patch; loss = ``sum_n mask_n l_n / sum_n mask_n``.

    Args:
        pred: (B, N, P) predicted patches.
        target: (B, N, P) true patches (``patchify`` of the input images).
        mask: (B, N), 1 for masked patches (the only ones that count), 0 for visible ones.
        norm_pix: normalise each target patch by its own mean and variance (MAE / PF-ViT default).
        eps: variance epsilon (MAE: 1e-6).

    Returns:
        Scalar loss (0 if nothing is masked).
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    if mask.shape != pred.shape[:2]:
        raise ValueError(f"mask must be {tuple(pred.shape[:2])}, not {tuple(mask.shape)}")
    if norm_pix:
        mean, std = patch_stats(target, eps=eps)
        target = (target - mean) / std
    per_patch = (pred - target).pow(2).mean(dim=-1)
    mask = mask.to(per_patch.dtype)
    return (per_patch * mask).sum() / mask.sum().clamp_min(torch.finfo(per_patch.dtype).tiny)


__all__ = ["mae_loss", "patch_stats"]
