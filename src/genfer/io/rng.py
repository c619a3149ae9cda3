"""Seeded random streams: what makes a run reproducible, resumable and identical under DDP.

Every draw of a training step comes from a generator seeded by (run seed, step, stream), every epoch's sample
order from (run seed, epoch); nothing depends on global RNG state.
"""

from __future__ import annotations

import torch


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The sample order of ``epoch`` (identical on every rank)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """Generator for the random draws of global step ``step`` (``stream`` separates independent draws)."""
    return torch.Generator().manual_seed((seed + 1) * 2_147_483_647 + step + stream * 1_000_000_007)
