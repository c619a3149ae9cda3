"""Fréchet distance between two Gaussians fitted to feature sets (FID when the features are Inception's).

    d² = |μ1 − μ2|² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½)

computed in float64 with ``scipy.linalg.sqrtm``. If the square root is not finite (singular product,
typically fewer samples than feature dimensions), ``eps`` is added to both diagonals and a warning is
logged, as pytorch-fid does; a tiny imaginary part from numerical error is dropped, a large one is an
error.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch

from genfer.metrics.features import FeatureStats

log = logging.getLogger(__name__)


class FrechetDistanceError(ValueError):
    """The Fréchet distance cannot be computed from these statistics."""


def _as_f64(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return (x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64))


def _sqrtm(a: np.ndarray) -> np.ndarray:
    """scipy's matrix square root, with its singular-matrix warning sent to the log."""
    from scipy import linalg

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        root = linalg.sqrtm(a)
    for w in caught:
        if issubclass(w.category, linalg.LinAlgWarning):
            log.warning("Fréchet distance: covariance product is singular, its square root may be inaccurate "
                        "(too few samples or constant features)")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return root


def frechet_distance(
    mu1: torch.Tensor | np.ndarray,
    sigma1: torch.Tensor | np.ndarray,
    mu2: torch.Tensor | np.ndarray,
    sigma2: torch.Tensor | np.ndarray,
    *,
    eps: float = 1e-6,
    imag_tol: float = 1e-3,
) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Args:
        mu1, mu2: (D,) means.
        sigma1, sigma2: (D, D) covariances.
        eps: diagonal offset used (with a warning) when the matrix square root is not finite.
        imag_tol: largest tolerated |imaginary part| on the diagonal of the square root.

    Returns:
        The distance as a Python float (>= 0 up to rounding).
    """
    m1, m2, s1, s2 = _as_f64(mu1), _as_f64(mu2), _as_f64(sigma1), _as_f64(sigma2)
    d = m1.shape[0]
    if m1.shape != (d,) or m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise FrechetDistanceError(f"shape mismatch: means {m1.shape}, {m2.shape}; covariances {s1.shape}, "
                                   f"{s2.shape}")
    if not all(np.isfinite(a).all() for a in (m1, m2, s1, s2)):
        raise FrechetDistanceError("statistics contain NaN or infinite values")
    covmean = _sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        log.warning("Fréchet distance: product of covariances is singular; adding %g to the diagonals", eps)
        offset = np.eye(d) * eps
        covmean = _sqrtm((s1 + offset) @ (s2 + offset))
        if not np.isfinite(covmean).all():
            raise FrechetDistanceError("covariances are singular even with an eps offset; use more samples "
                                       "than feature dimensions or a larger eps")
    if np.iscomplexobj(covmean):
        worst = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if worst > imag_tol:
            raise FrechetDistanceError(f"matrix square root has a large imaginary component ({worst:.3g}); "
                                       "covariances are ill-conditioned (too few samples?)")
        covmean = covmean.real
    diff = m1 - m2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def frechet_distance_stats(a: FeatureStats, b: FeatureStats, *, eps: float = 1e-6) -> float:
    """Fréchet distance between two :class:`FeatureStats` of the same extractor.

    Raises :class:`FrechetDistanceError` for different extractors or fewer than 2 samples; warns when a
    set has no more samples than feature dimensions (singular covariance, biased estimate).
    """
    if a.extractor != b.extractor:
        raise FrechetDistanceError(f"feature statistics come from different extractors ({a.extractor!r} vs "
                                   f"{b.extractor!r})")
    for name, s in (("first", a), ("second", b)):
        if s.n < 2:
            raise FrechetDistanceError(f"the {name} set has {s.n} sample(s); the Fréchet distance needs at least 2")
        if s.n <= s.dim:
            log.warning("the %s set has %d samples for %d-dimensional %s features: its covariance is singular "
                        "and the Fréchet distance is strongly biased; use more images", name, s.n, s.dim,
                        s.extractor)
    return frechet_distance(a.mean, a.cov, b.mean, b.cov, eps=eps)
