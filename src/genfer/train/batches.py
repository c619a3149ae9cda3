"""A training step's batch: the plan's samples of a step, augmented, on the device, with the values that go with them.

Every trainer that walks its data with a :class:`~genfer.train.loop.BatchPlan` draws its step's batch here, so
that the draws a resumed or distributed run depends on (the epoch permutation, the augmentation parameters of the
whole global batch, each rank's contiguous slice of both) are made in one place.
"""

from __future__ import annotations

from typing import overload

import torch

from genfer.config import AugmentConfig
from genfer.data.augment import augmented_batch
from genfer.train.loop import BatchPlan


@overload
def training_batch(plan: BatchPlan, step: int, augment: AugmentConfig, generator: torch.Generator,
                   images: torch.Tensor, *, device: torch.device | str,
                   subset: torch.Tensor | None = None) -> torch.Tensor: ...


@overload
def training_batch(plan: BatchPlan, step: int, augment: AugmentConfig, generator: torch.Generator,
                   images: torch.Tensor, aligned: torch.Tensor, *more: torch.Tensor, device: torch.device | str,
                   subset: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]: ...


def training_batch(plan: BatchPlan, step: int, augment: AugmentConfig, generator: torch.Generator,
                   images: torch.Tensor, *aligned: torch.Tensor, device: torch.device | str,
                   subset: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """This rank's augmented batch of plan step ``step`` and the rows of ``aligned`` that go with it.

    Args:
        plan: the run's batch plan; its ``indices(step)`` pick this rank's samples.
        step: the plan's step (usually the global step; a trainer whose plan starts later passes its own count).
        augment: the augmentation ranges.
        generator: draws the augmentation of the whole global batch (e.g. ``step_generator(seed, step)``).
        images: (N, C, H, W) uint8, the pool the plan walks (or that ``subset`` selects from).
        aligned: tensors with one row per image of the pool (e.g. targets (N, K), labels (N,)).
        device: where the returned tensors go.
        subset: (n,) pool indices of the training samples when the plan walks a subset (``plan.n == n``).

    Returns:
        (b, C, H, W) float in [-1, 1] on ``device`` (b = global batch / world size); with ``aligned``, the tuple
        of it and each aligned tensor's rows of the same samples (b, ...) on ``device``.
    """
    idx = plan.indices(step)
    if subset is not None:
        idx = subset[idx]
    x = augmented_batch(images[idx], augment, generator, global_batch=plan.global_batch, local=plan.local).to(device)
    if not aligned:
        return x
    return (x, *(values[idx].to(device) for values in aligned))


__all__ = ["training_batch"]
