"""Kernel Inception Distance: unbiased MMD² with a polynomial kernel, averaged over random subsets.

    k(x, y) = (γ xᵀy + c)^d,  γ = 1/D, c = 1, d = 3   (Bińkowski et al., 2018)

For each subset, ``m`` real and ``m`` fake features are drawn without replacement and

    MMD²_u = Σ_{i≠j} k(xᵢ, xⱼ) / (m(m−1)) + Σ_{i≠j} k(yᵢ, yⱼ) / (m(m−1)) − 2 Σ_{i,j} k(xᵢ, yⱼ) / m².
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KIDResult:
    """Mean and (population) standard deviation of MMD² over ``num_subsets`` subsets of ``subset_size``."""

    mean: float
    std: float
    subset_size: int
    num_subsets: int


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, *, degree: int = 3, gamma: float | None = None,
                      coef0: float = 1.0) -> torch.Tensor:
    """x: (N, D), y: (M, D) -> (N, M) kernel ``(gamma x·y + coef0) ** degree``; gamma defaults to 1/D."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (gamma * (x @ y.T) + coef0) ** degree


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, *, degree: int = 3, gamma: float | None = None,
                  coef0: float = 1.0) -> torch.Tensor:
    """Unbiased MMD² (polynomial kernel) between equally sized samples x, y: (m, D), m >= 2 -> scalar."""
    m = x.shape[0]
    if y.shape[0] != m or m < 2:
        raise ValueError(f"mmd2_unbiased needs two samples of equal size >= 2, not {x.shape[0]} and {y.shape[0]}")
    kernel_args = {"degree": degree, "gamma": gamma, "coef0": coef0}
    kxx = polynomial_kernel(x, x, **kernel_args)
    kyy = polynomial_kernel(y, y, **kernel_args)
    kxy = polynomial_kernel(x, y, **kernel_args)
    within = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return within - 2.0 * kxy.sum() / (m * m)


def kernel_inception_distance(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    subset_size: int = 1000,
    num_subsets: int = 100,
    generator: torch.Generator | None = None,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
) -> KIDResult:
    """KID between feature sets real: (N, D) and fake: (M, D), computed in float64.

    ``subset_size`` is reduced (with a warning) to ``min(N, M)`` when either set is smaller.
    ``generator`` seeds the subset draws (default: a generator seeded with 0).
    """
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be (N, D) and (M, D), not {tuple(real.shape)} and {tuple(fake.shape)}")
    n = min(real.shape[0], fake.shape[0])
    if n < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {real.shape[0]} real and {fake.shape[0]} fake")
    if subset_size > n:
        log.warning("KID subset size %d > set size; using %d", subset_size, n)
        subset_size = n
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, not {num_subsets}")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    x, y = real.detach().cpu().double(), fake.detach().cpu().double()
    scores = torch.empty(num_subsets, dtype=torch.float64)
    for s in range(num_subsets):
        xi = torch.randperm(x.shape[0], generator=generator)[:subset_size]
        yi = torch.randperm(y.shape[0], generator=generator)[:subset_size]
        scores[s] = mmd2_unbiased(x[xi], y[yi], degree=degree, gamma=gamma, coef0=coef0)
    return KIDResult(mean=float(scores.mean()), std=float(scores.std(unbiased=False)), subset_size=subset_size,
                     num_subsets=num_subsets)
