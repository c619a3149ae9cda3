"""A labelled dataset split held in memory as tensors, ready for batched training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genfer.config import DataConfig
from genfer.data.arrays import split_tensor
from genfer.data.registry import open_dataset
from genfer.paths import dataset_root


@dataclass
class SplitTensors:
    """A split in memory: uint8 images (N, C, H, W), soft targets (N, K), labels (N,)."""

    images: torch.Tensor
    targets: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]


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
    keeps the first ``limit`` labelled images. Targets are the vote distributions when
    ``data.target == "votes"`` and the dataset has them, else one-hot labels (N, ``num_classes``).
    """

    options = {"label_source": data.label_source} if data.dataset == "ferplus" else {}
    ds = open_dataset(data.dataset, dataset_root(data.dataset, data.root), split, **options)
    keep = (ds.labels >= 0).nonzero()[0]
    if limit:
        keep = keep[:limit]
    ds = ds.subset(keep)
    labels = torch.from_numpy(ds.labels)
    if labels.numel() and int(labels.max()) >= num_classes:
        raise ValueError(f"{ds.name} has labels beyond the model's {num_classes} classes")
    if data.target == "votes" and ds.votes is not None:
        targets = torch.zeros(len(ds), num_classes)
        targets[:, : ds.votes.shape[1]] = torch.from_numpy(ds.votes[:, :num_classes])
        targets = targets / targets.sum(1, keepdim=True).clamp_min(1e-8)
    else:
        targets = F.one_hot(labels, num_classes).float()
    images = split_tensor(ds, image_size, in_chans, progress=progress)
    return SplitTensors(images=images, targets=targets, labels=labels, classes=ds.classes)


__all__ = ["SplitTensors", "load_split", "load_train_val"]


def load_train_val(
    data: DataConfig, *, num_classes: int, image_size: int, in_chans: int, progress: bool = False
) -> tuple[SplitTensors, SplitTensors | None]:
    """The training split and (if ``data.val_split`` is set) the validation split of a run's data section."""
    geometry = {"num_classes": num_classes, "image_size": image_size, "in_chans": in_chans, "progress": progress}
    train = load_split(data, data.train_split, data.limit_train, **geometry)
    val = load_split(data, data.val_split, data.limit_val, **geometry) if data.val_split else None
    return train, val
