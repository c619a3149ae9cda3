"""Unlabelled image pools: several dataset splits pooled into one uint8 tensor (self-supervised training)."""

from __future__ import annotations

from pathlib import Path

import torch

from genfer.config import ImageSource
from genfer.data.arrays import split_tensor
from genfer.data.base import FaceImages
from genfer.data.registry import dataset_options, open_dataset
from genfer.paths import data_root, dataset_root


def source_root(source: ImageSource) -> Path:
    """Where ``source`` lives (see :class:`~genfer.config.ImageSource` for the rules)."""
    if not source.root:
        return dataset_root(source.dataset.lower(), None)
    root = Path(source.root)
    return root if root.is_absolute() or root.exists() else data_root() / root


def open_source(source: ImageSource) -> FaceImages:
    """Every image of ``source`` as a pool holds it (FERPlus images its majority convention drops are kept)."""
    options = {"keep_dropped": True} if "keep_dropped" in dataset_options(source.dataset) else {}
    return open_dataset(source.dataset, source_root(source), source.split or None, **options)


def load_image_pool(
    sources: tuple[ImageSource, ...] | list[ImageSource],
    *,
    size: int,
    channels: int,
    limit: int = 0,
    progress: bool = False,
) -> tuple[torch.Tensor, list[str]]:
    """All images of ``sources``, labels ignored, resized to ``size``.

    Images a labelled reader would drop for an unclear label (FERPlus majority) are kept.

    Returns:
        images: (N, C, size, size) uint8, sources in order; ``names``: (N,) ``dataset/split:id`` strings.
    """
    parts, names = [], []
    for src in sources:
        ds = open_source(src)
        parts.append(split_tensor(ds, size, channels, progress=progress))
        names += [f"{ds.name}:{i}" for i in ds.ids]
    images = torch.cat(parts) if len(parts) > 1 else parts[0]
    if limit:
        images, names = images[:limit], names[:limit]
    return images, names


__all__ = ["load_image_pool", "open_source", "source_root", "split_holdout"]


def split_holdout(n: int, holdout: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, held out) of a pool of ``n`` images: a fixed random ``holdout`` of them is held out."""
    if holdout >= n:
        raise ValueError(f"holdout {holdout} leaves no training images out of {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7919))
    return perm[: n - holdout].sort().values, perm[n - holdout :].sort().values
