"""genfer.train.batches.training_batch: the step's batch is drawn exactly as the trainers' former inline code drew it."""

import pytest
import torch

from genfer.config import AugmentConfig
from genfer.data.augment import augmented_batch
from genfer.io import step_generator
from genfer.train.batches import training_batch
from genfer.train.distributed import DistInfo
from genfer.train.loop import BatchPlan

N, BATCH, SEED = 12, 4, 7


def pool() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, 1, 6, 6) uint8 images whose pixels encode their row (plus a gradient), targets (N, 3), labels (N,)."""
    rows = torch.arange(N).view(N, 1, 1, 1)
    images = (rows * 20 + torch.arange(36).view(1, 1, 6, 6)).clamp(max=255).to(torch.uint8)
    targets = torch.stack([torch.arange(N).float(), -torch.arange(N).float(), torch.full((N,), 0.5)], dim=1)
    return images, targets, torch.arange(N) % 3


def plan(rank: int = 0, world: int = 1, n: int = N) -> BatchPlan:
    return BatchPlan.make(n=n, batch_size=BATCH, epochs=2.0, warmup_epochs=0.0, seed=SEED,
                          info=DistInfo(rank=rank, world_size=world))


@pytest.mark.parametrize("rank,world", [(0, 1), (0, 2), (1, 2)])
@pytest.mark.parametrize("step", [0, 2, 4])  # the first step, the last of epoch 0 and one of epoch 1
def test_same_tensors_as_the_former_inline_code(rank, world, step):
    images, targets, labels = pool()
    p, aug = plan(rank, world), AugmentConfig(erase_prob=0.5)
    # the trainers' code before training_batch (recognizer, PF-ViT)
    idx = p.indices(step)
    x_old = augmented_batch(images[idx], aug, step_generator(SEED, step), global_batch=p.global_batch,
                            local=p.local).to("cpu")
    y_old, l_old = targets[idx].to("cpu"), labels[idx].to("cpu")

    x, y, lab = training_batch(plan(rank, world), step, aug, step_generator(SEED, step), images, targets, labels,
                               device="cpu")
    assert x.shape == (BATCH // world, 1, 6, 6) and x.dtype == torch.float32
    assert torch.equal(x, x_old) and torch.equal(y, y_old) and torch.equal(lab, l_old)
    alone = training_batch(plan(rank, world), step, aug, step_generator(SEED, step), images, device="cpu")
    assert torch.equal(alone, x_old)


@pytest.mark.parametrize("rank,world", [(0, 1), (1, 2)])
def test_subset_and_stream_as_the_former_inline_code(rank, world):
    """MAE, StyleGAN2, pSp, HyperStyle, ASIT: the plan walks a subset of a pool, with an augmentation stream."""
    images, _, _ = pool()
    train_idx = torch.tensor([11, 0, 3, 5, 8, 9, 2, 6])
    p, aug, step = plan(rank, world, n=len(train_idx)), AugmentConfig(), 1
    x_old = augmented_batch(images[train_idx[p.indices(step)]], aug, step_generator(SEED, step, 3),
                            global_batch=p.global_batch, local=p.local)
    x = training_batch(p, step, aug, step_generator(SEED, step, 3), images, subset=train_idx, device="cpu")
    assert torch.equal(x, x_old)


def test_ranks_split_the_single_process_batch():
    """Two ranks' batches, concatenated, are the one-process batch: same samples, same augmentation draws."""
    images, targets, _ = pool()
    aug, step = AugmentConfig(erase_prob=0.5), 3
    whole, y_whole = training_batch(plan(), step, aug, step_generator(SEED, step), images, targets, device="cpu")
    parts = [training_batch(plan(r, 2), step, aug, step_generator(SEED, step), images, targets, device="cpu")
             for r in (0, 1)]
    assert torch.equal(torch.cat([x for x, _ in parts]), whole)
    assert torch.equal(torch.cat([y for _, y in parts]), y_whole)


def test_aligned_rows_belong_to_the_batch_images():
    """Each target row is that of the image drawn (pixels encode the row), and the plan's order is followed."""
    images, targets, _ = pool()
    p, step = plan(), 1
    no_aug = AugmentConfig(hflip=False, rotate_deg=0, scale=0, shift=0, brightness=0, contrast=0, erase_prob=0)
    x, y = training_batch(p, step, no_aug, step_generator(SEED, step), images, targets, device="cpu")
    rows_in_x = torch.round(((x[:, 0, 0, 0] + 1) / 2 * 255) / 20).long()  # pixel (0, 0) of row r is 20 r
    assert torch.equal(rows_in_x, p.indices(step))
    assert torch.equal(y[:, 0].long(), rows_in_x)
