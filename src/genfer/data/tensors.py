"""A labelled dataset split held in memory as tensors, ready for batched training and evaluation."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genfer.config import DataConfig
from genfer.data.arrays import split_tensor
from genfer.data.base import FaceImages, drop_unreadable
from genfer.data.registry import open_dataset
from genfer.paths import dataset_root

log = logging.getLogger(__name__)


@dataclass
class SplitTensors:
    """A split in memory: uint8 images (N, C, H, W), soft targets (N, K), labels (N,)."""

    images: torch.Tensor
    targets: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]


def open_labelled(data: DataConfig, split: str, limit: int = 0) -> FaceImages:
    """The labelled images of split ``split`` of ``data.dataset`` (the first ``limit`` of them; 0: all), not yet read."""
    options = {"label_source": data.label_source} if data.dataset == "ferplus" else {}
    ds = open_dataset(data.dataset, dataset_root(data.dataset, data.root), split, **options)
    keep = (ds.labels >= 0).nonzero()[0]
    return ds.subset(keep[:limit] if limit else keep)


def load_split(
    data: DataConfig,
    split: str,
    limit: int = 0,
    *,
    num_classes: int,
    image_size: int,
    in_chans: int,
    progress: bool = False,
) -> SplitTensors:
    """Read split ``split`` of ``data.dataset`` with the dataset registry and hold it as tensors.

    Images without a label (e.g. FERPlus images the majority convention drops) are left out; ``limit``
    keeps the first ``limit`` labelled images; with ``data.skip_bad`` unreadable images are left out too (else the
    first one stops the run with a :class:`~genfer.data.base.DatasetImageError` naming it). Targets are the vote distributions when
    ``data.target == "votes"`` and the dataset has them, else one-hot labels (N, ``num_classes``).
    """

    ds = open_labelled(data, split, limit)
    if data.skip_bad:
        ds, bad = drop_unreadable(ds, progress=progress)
        if bad:
            log.warning("%s: left out %d unreadable image(s), e.g. %s", ds.name, len(bad), bad[0])
    labels = torch.from_numpy(ds.labels)
    if labels.numel() and int(labels.max()) >= num_classes:
        raise ValueError(f"{ds.name} has labels beyond the model's {num_classes} classes")
    if data.target == "votes" and ds.votes is not None:
        targets = torch.zeros(len(ds), num_classes)
        targets[:, : ds.votes.shape[1]] = torch.from_numpy(ds.votes[:, :num_classes])
        targets = targets / targets.sum(1, keepdim=True).clamp_min(1e-8)
    else:
        targets = F.one_hot(labels, num_classes).float()
    if data.teacher and split == data.train_split:
        targets = mix_teacher(targets, ds.ids, data.teacher, data.teacher_weight)
    images = split_tensor(ds, image_size, in_chans, progress=progress)
    return SplitTensors(images=images, targets=targets, labels=labels, classes=ds.classes)


def mix_teacher(targets: torch.Tensor, ids: list[str], path: str, weight: float) -> torch.Tensor:
    """Distillation targets: ``(1 - weight) * targets + weight * teacher`` (N, K), the teacher's probabilities read
    from ``path`` (an ``.npz`` with ``ids`` (M,) and ``probs`` (M, K), e.g. from ``scripts/teacher_targets.py``)
    and matched to the images by id. Every image needs a teacher row; rows must sum to 1."""
    import numpy as np

    with np.load(path) as f:
        teacher_ids, probs = [str(i) for i in f["ids"]], torch.from_numpy(f["probs"].astype(np.float32))
    if probs.shape[1] != targets.shape[1]:
        raise ValueError(f"teacher {path}: {probs.shape[1]} classes, the model has {targets.shape[1]}")
    row = {i: k for k, i in enumerate(teacher_ids)}
    missing = [i for i in ids if i not in row]
    if missing:
        raise ValueError(f"teacher {path}: no probabilities for {len(missing)} training image(s), e.g. {missing[0]}")
    teacher = probs[[row[i] for i in ids]]
    if not torch.allclose(teacher.sum(1), torch.ones(len(teacher)), atol=1e-3):
        raise ValueError(f"teacher {path}: probability rows must sum to 1")
    return (1 - weight) * targets + weight * teacher


__all__ = ["SplitTensors", "load_split", "load_train_val", "mix_teacher", "open_labelled"]


def load_train_val(
    data: DataConfig, *, num_classes: int, image_size: int, in_chans: int, progress: bool = False
) -> tuple[SplitTensors, SplitTensors | None]:
    """The training split and (if ``data.val_split`` is set) the validation split of a run's data section."""
    geometry = {"num_classes": num_classes, "image_size": image_size, "in_chans": in_chans, "progress": progress}
    train = load_split(data, data.train_split, data.limit_train, **geometry)
    val = load_split(data, data.val_split, data.limit_val, **geometry) if data.val_split else None
    return train, val
