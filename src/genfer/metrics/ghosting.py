"""How much of the *reference* an expression transfer pastes into its output: the crossfade fit.

An output that is the blend ``(1 - k) * source + k * reference`` shows both faces at once (double contours,
"ghosts"). Fitting the change the output made, ``output - source``, by a multiple of ``reference - source``
gives k (0: nothing of the reference; 1: the reference itself) and the share R² of the change that this
blend explains. A transfer that only moves the source's mouth and eyes has k near 0 and a small R².
"""

from __future__ import annotations

import torch


def crossfade_fit(outputs: torch.Tensor, sources: torch.Tensor, references: torch.Tensor, *,
                  eps: float = 1e-12) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares k and R² of ``output - source ≈ k (reference - source)``, per image.

    Args:
        outputs, sources, references: (B, C, H, W), one pixel scale (e.g. [-1, 1]).

    Returns:
        k: (B,) ``<c, d> / <d, d>`` with c = output - source, d = reference - source;
        r2: (B,) ``1 - ||c - k d||² / ||c||²`` (0 when the output equals the source).
    """
    if not outputs.shape == sources.shape == references.shape or outputs.dim() < 2:
        raise ValueError(f"outputs, sources and references must share one (B, ...) shape, got "
                         f"{tuple(outputs.shape)}, {tuple(sources.shape)}, {tuple(references.shape)}")
    change = (outputs - sources).double().flatten(1)
    direction = (references - sources).double().flatten(1)
    k = (change * direction).sum(1) / direction.square().sum(1).clamp_min(eps)
    energy = change.square().sum(1)
    left = (change - k[:, None] * direction).square().sum(1)
    r2 = torch.where(energy > eps, 1.0 - left / energy.clamp_min(eps), torch.zeros_like(energy))
    return k, r2


__all__ = ["crossfade_fit"]
