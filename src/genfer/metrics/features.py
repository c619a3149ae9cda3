"""Streaming feature statistics for FID/KID, and save/load of reference statistics.

A :class:`FeatureAccumulator` takes feature batches ``(B, D)`` and keeps a float64 running mean and
centred scatter matrix (Chan et al.'s pairwise update, stable for any number of batches), plus the raw
features if KID will need them. :class:`FeatureStats` is the result: mean, covariance (unbiased,
``n - 1``), count, the extractor's name and optionally the features. Stats files are safetensors with
the extractor name in their metadata, so a real set is featurised once and never mixed with another
extractor's features.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from genfer.io import CheckpointError, atomic_write_bytes

STATS_FORMAT = "genfer-feature-stats/1"
"""Value of the ``format`` metadata field of a stats file."""


@dataclass(frozen=True)
class FeatureStats:
    """Summary of a feature set.

    Attributes:
        mean: (D,) float64.
        cov: (D, D) float64 unbiased covariance (``n - 1``); zeros when ``n < 2``.
        n: number of samples.
        extractor: name of the feature extractor that produced them.
        features: (n, D) float32 raw features, or None when not kept (KID needs them).
    """

    mean: torch.Tensor
    cov: torch.Tensor
    n: int
    extractor: str
    features: torch.Tensor | None = None

    @property
    def dim(self) -> int:
        """Feature dimension D."""
        return int(self.mean.shape[0])


class FeatureAccumulator:
    """Accumulate features ``(B, D)`` batch by batch into :class:`FeatureStats`.

    Args:
        extractor: name recorded with the statistics.
        keep_features: also keep the raw features (float32), as KID needs them.
    """

    def __init__(self, extractor: str, *, keep_features: bool = False) -> None:
        self.extractor = extractor
        self.keep_features = keep_features
        self.n = 0
        self._mean: torch.Tensor | None = None
        self._scatter: torch.Tensor | None = None
        self._kept: list[torch.Tensor] = []

    def update(self, features: torch.Tensor) -> None:
        """Add a batch; features: (B, D) (any float dtype, any device)."""
        if features.ndim != 2:
            raise ValueError(f"features must be (B, D), not {tuple(features.shape)}")
        if self._mean is not None and features.shape[1] != self._mean.shape[0]:
            raise ValueError(f"feature dimension changed from {self._mean.shape[0]} to {features.shape[1]}")
        b = features.shape[0]
        if b == 0:
            return
        x = features.detach().to("cpu", torch.float64)
        if not torch.isfinite(x).all():
            raise ValueError(f"{self.extractor} produced NaN or infinite features")
        if self.keep_features:
            self._kept.append(x.float())
        mean_b = x.mean(0)
        centred = x - mean_b
        scatter_b = centred.T @ centred
        if self._mean is None:
            self._mean, self._scatter, self.n = mean_b, scatter_b, b
            return
        n = self.n + b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (b / n)
        self._scatter = self._scatter + scatter_b + torch.outer(delta, delta) * (self.n * b / n)
        self.n = n

    def compute(self) -> FeatureStats:
        """The statistics so far; raises ValueError if no features were added."""
        if self._mean is None:
            raise ValueError(f"no features were accumulated for {self.extractor}")
        cov = self._scatter / (self.n - 1) if self.n > 1 else torch.zeros_like(self._scatter)
        feats = torch.cat(self._kept) if self.keep_features else None
        return FeatureStats(mean=self._mean.clone(), cov=cov, n=self.n, extractor=self.extractor, features=feats)


def stats_from_features(features: torch.Tensor, extractor: str, *, keep_features: bool = False) -> FeatureStats:
    """FeatureStats of a whole (N, D) feature matrix."""
    acc = FeatureAccumulator(extractor, keep_features=keep_features)
    acc.update(features)
    return acc.compute()


def save_stats(stats: FeatureStats, path: str | Path) -> None:
    """Write stats as safetensors (``mean``, ``cov`` and, if kept, ``features``) atomically."""
    path = Path(path)
    tensors = {"mean": stats.mean.contiguous(), "cov": stats.cov.contiguous()}
    if stats.features is not None:
        tensors["features"] = stats.features.contiguous()
    meta = {"format": STATS_FORMAT, "extractor": stats.extractor, "n": str(stats.n)}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, save(tensors, metadata=meta))


def load_stats(path: str | Path) -> FeatureStats:
    """Read stats written by :func:`save_stats`; a bad file is a :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"feature statistics file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a feature statistics file ({exc})") from None
    if meta.get("format") != STATS_FORMAT or not {"mean", "cov"} <= set(tensors):
        raise CheckpointError(f"{path} is not a genfer feature statistics file (metadata {json.dumps(meta)})")
    mean, cov = tensors["mean"].double(), tensors["cov"].double()
    if cov.shape != (mean.shape[0], mean.shape[0]):
        raise CheckpointError(f"{path}: covariance {tuple(cov.shape)} does not match mean {tuple(mean.shape)}")
    return FeatureStats(mean=mean, cov=cov, n=int(meta.get("n", 0)), extractor=meta.get("extractor", "?"),
                        features=tensors.get("features"))
