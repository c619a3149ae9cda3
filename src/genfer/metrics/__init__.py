"""Metrics: classification (``classification``) and generative evaluation.

Generative metrics, one module each: Fréchet distance (``frechet``), KID (``kid``), feature
accumulators and reference statistics (``features``), FID/KID feature extractors (``extractors``,
``inception``), LPIPS (``lpips``), SSIM/PSNR/MSE (``ssim``), emotion score (``emotion_score``), identity
similarity (``identity``), sharpness (``sharpness``: variance of the Laplacian) and the crossfade fit of a
transfer to its reference (``ghosting``). Names below are imported on first use, so ``import genfer.metrics`` stays cheap;
the functions named like their module are imported from it: ``from genfer.metrics.ssim import ssim``,
``from genfer.metrics.emotion_score import emotion_score``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FeatureAccumulator": "features",
    "FeatureStats": "features",
    "load_stats": "features",
    "save_stats": "features",
    "stats_from_features": "features",
    "FrechetDistanceError": "frechet",
    "frechet_distance": "frechet",
    "frechet_distance_stats": "frechet",
    "KIDResult": "kid",
    "kernel_inception_distance": "kid",
    "mmd2_unbiased": "kid",
    "polynomial_kernel": "kid",
    "EXTRACTORS": "extractors",
    "InceptionExtractor": "extractors",
    "RecognizerExtractor": "extractors",
    "build_extractor": "extractors",
    "FIDInceptionV3": "inception",
    "load_fid_inception": "inception",
    "LPIPS": "lpips",
    "GenferLPIPS": "lpips",
    "build_lpips": "lpips",
    "load_lpips": "lpips",
    "ssim_map": "ssim",
    "psnr": "ssim",
    "mse": "ssim",
    "EmotionScore": "emotion_score",
    "cosine_similarity": "identity",
    "identity_similarity": "identity",
    "laplacian_ratio": "sharpness",
    "laplacian_variance": "sharpness",
    "crossfade_fit": "ghosting",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"genfer.metrics.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'genfer.metrics' has no attribute {name!r}")
