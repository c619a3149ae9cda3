"""Optimisation-based inversion: find w or W+ whose image matches a target (the baseline encoders are compared with).

Adam on the code (rosinality's ``projector.py`` schedule): the learning rate ramps up over the first
``rampup`` fraction of the steps and down with a cosine over the last ``rampdown`` fraction; during the
first ``noise_ramp`` fraction Gaussian noise of strength ``latent_noise·σ_w·(1 − t/noise_ramp)²`` is added to
the code (σ_w: the spread of w around its mean). The objective is the inversion criterion (L2, perceptual,
identity, ``‖w − w̄‖``) and, when the generator's noise maps are optimised too, ``noise_reg`` times the
multi-scale autocorrelation penalty of StyleGAN2's projector (the maps are renormalised after every step).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from genfer.models.stylegan2 import Generator

log = logging.getLogger(__name__)

__all__ = ["ProjectionResult", "noise_regularization", "project", "projection_lr"]

Criterion = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]


@dataclass
class ProjectionResult:
    """wplus: (B, n_latent, D) the optimised codes; image: (B, C, H, W) their images in [-1, 1] (same noise);
    noise: the optimised noise maps (or None: the generator's fixed maps); losses: total loss per step."""

    wplus: torch.Tensor
    image: torch.Tensor
    noise: list[torch.Tensor] | None = None
    losses: list[float] = field(default_factory=list)


def projection_lr(t: float, base: float, *, rampdown: float = 0.25, rampup: float = 0.05) -> float:
    """Learning rate at progress t in [0, 1]: linear warm-up over ``rampup``, cosine decay over the last ``rampdown``
    fraction."""
    ramp = min(1.0, (1.0 - t) / rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return base * ramp * min(1.0, t / rampup)


def noise_regularization(noises: list[torch.Tensor]) -> torch.Tensor:
    """StyleGAN2's noise penalty: squared mean autocorrelation at shift 1 (rows and columns) of every noise map,
    repeated on 2×2-average-pooled copies down to 8×8 px. noises: (B, 1, r, r) maps."""
    loss = noises[0].new_zeros(())
    for noise in noises:
        size = noise.shape[-1]
        while True:
            loss = loss + (noise * torch.roll(noise, 1, dims=3)).mean().pow(2)
            loss = loss + (noise * torch.roll(noise, 1, dims=2)).mean().pow(2)
            if size <= 8:
                break
            noise = noise.reshape(-1, 1, size // 2, 2, size // 2, 2).mean(dim=(3, 5))
            size //= 2
    return loss


def project(
    generator: Generator,
    target: torch.Tensor,
    *,
    latent_avg: torch.Tensor,
    criterion: Criterion,
    steps: int = 500,
    space: str = "wplus",
    init: torch.Tensor | None = None,
    lr: float = 0.1,
    latent_noise: float = 0.05,
    noise_ramp: float = 0.75,
    optimize_noise: bool = False,
    noise_reg: float = 1e5,
    seed: int = 0,
    structure: torch.Tensor | None = None,
) -> ProjectionResult:
    """Invert ``target`` by optimising its latent code.

    Args:
        generator: a frozen generator (its parameters are not updated).
        target: (B, C, H, W) in [-1, 1] at the generator's resolution.
        latent_avg: (D,) the generator's average w (start point and w-regulariser centre).
        criterion: ``(y, x, wplus, latent_avg) -> dict with 'total'``, e.g. an
            :class:`~genfer.inversion.criterion.InversionCriterion`.
        steps: Adam steps (0 returns the start code's image).
        space: ``"w"`` (one (B, D) code shared by all layers) or ``"wplus"`` (B, n_latent, D).
        init: start code (B, D) or (B, n_latent, D) (e.g. an encoder's W+; averaged over layers for ``"w"``);
            default the average latent.
        lr: peak learning rate.
        latent_noise: initial code-noise strength in units of σ_w (0: none).
        noise_ramp: fraction of the steps over which that noise fades out.
        optimize_noise: also optimise the generator's noise maps (else its fixed maps are used).
        noise_reg: weight of :func:`noise_regularization` when ``optimize_noise``.
        seed: seeds the code noise and the σ_w estimate.
        structure: (B, C4, 4, 4) a structure code (ASIT's) held fixed in place of the constant input, or None.

    Returns:
        A :class:`ProjectionResult`.
    """
    if space not in ("w", "wplus"):
        raise ValueError(f"space must be 'w' or 'wplus', not {space!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, not {steps}")
    b = target.shape[0]
    want = (generator.img_channels, generator.size, generator.size)
    if target.ndim != 4 or tuple(target.shape[1:]) != want:
        raise ValueError(f"target must be (B, {', '.join(map(str, want))}), got {tuple(target.shape)}")
    device = target.device
    w_avg = latent_avg.to(device).reshape(-1)
    start = w_avg.expand(b, -1) if init is None else init.detach().to(device)
    if space == "w":
        code = (start.mean(1) if start.ndim == 3 else start).clone()
    else:
        code = (start if start.ndim == 3 else start.unsqueeze(1).expand(-1, generator.n_latent, -1)).clone()
    code.requires_grad_(True)
    rng = torch.Generator().manual_seed(seed)
    sigma = _latent_spread(generator, w_avg, rng) if latent_noise > 0 else 0.0
    noises = None
    params = [code]
    if optimize_noise:
        noises = [n.detach().to(device).repeat(b, 1, 1, 1).requires_grad_(True) for n in
                  (getattr(generator.noises, f"noise_{i}") for i in range(generator.num_layers))]
        params += noises
    opt = torch.optim.Adam(params, lr=lr)
    losses: list[float] = []
    for i in range(steps):
        t = i / steps
        for group in opt.param_groups:
            group["lr"] = projection_lr(t, lr)
        strength = sigma * latent_noise * max(0.0, 1.0 - t / noise_ramp) ** 2
        noisy = code + torch.randn(code.shape, generator=rng).to(device) * strength if strength > 0 else code
        wplus = _as_wplus(noisy, generator.n_latent)
        image = generator.synthesis(wplus, noise=noises, randomize_noise=False, structure=structure)
        total = criterion(image, target, wplus, w_avg)["total"]
        if noises is not None and noise_reg > 0:
            total = total + noise_reg * noise_regularization(noises)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if noises is not None:
            with torch.no_grad():
                for n in noises:  # each sample's map back to zero mean, unit variance
                    n.sub_(n.mean(dim=(1, 2, 3), keepdim=True)).div_(n.std(dim=(1, 2, 3), keepdim=True))
        losses.append(float(total.detach()))
    with torch.no_grad():
        wplus = _as_wplus(code.detach(), generator.n_latent)
        image = generator.synthesis(wplus, noise=noises, randomize_noise=False, structure=structure).clamp(-1, 1)
    log.info("projected %d image(s) in %d steps, final loss %s", b, steps, losses[-1] if losses else None)
    return ProjectionResult(wplus=wplus, image=image,
                            noise=None if noises is None else [n.detach() for n in noises], losses=losses)


def _as_wplus(code: torch.Tensor, n_latent: int) -> torch.Tensor:
    return code if code.ndim == 3 else code.unsqueeze(1).expand(-1, n_latent, -1)


@torch.no_grad()
def _latent_spread(generator: Generator, w_avg: torch.Tensor, rng: torch.Generator, n: int = 2000) -> float:
    """σ_w = sqrt(mean ‖w − w̄‖²) over n mapped z (rosinality's ``latent_std``)."""
    z = torch.randn(n, generator.style_dim, generator=rng).to(w_avg.device)
    return float((generator.get_latent(z) - w_avg).pow(2).sum(1).mean().sqrt())
