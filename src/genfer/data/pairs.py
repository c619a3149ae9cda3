"""Unpaired face pairs with different expressions, for the switch-unit GAN.

The switch unit exchanges the blocks of two faces I_a, I_b of expressions y_a != y_b. Training "goes over
all expressions repeatedly" (Zhang et al., Sec. III-B, after ELEGANT), so each step uses ONE expression pair
(i, j): a batch of faces of expression i and a batch of faces of expression j. :class:`ExpressionPairSampler`
walks the unordered pairs of the expressions present in the data in turn (a fresh seeded order every cycle,
each pair once per cycle) and draws the faces; :meth:`~ExpressionPairSampler.references` draws, for faces
to be transferred, target expressions and reference faces of those expressions.

Every draw is a function of (seed, step): a resumed run draws exactly what an uninterrupted one would.
Random numbers are drawn for the *global* batch and sliced, so DDP ranks together draw what one process
would.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from genfer.io import step_generator

_PAIR_STREAM, _FACE_STREAM, _REFERENCE_STREAM = 11, 12, 13


@dataclass(frozen=True)
class PairBatch:
    """One step's pair: indices of faces I_a (expression ``label_a``) and I_b (``label_b``), each (b,) long."""

    index_a: torch.Tensor
    index_b: torch.Tensor
    label_a: int
    label_b: int

    def labels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(b,) long label tensors of the two sides."""
        n = self.index_a.shape[0]
        return torch.full((n,), self.label_a, dtype=torch.long), torch.full((n,), self.label_b, dtype=torch.long)


class ExpressionPairSampler:
    """Seeded draws of expression pairs, pair batches and reference faces from a labelled set.

    Args:
        labels: (N,) long expression labels of the training faces.
        num_classes: n; expressions without any face are left out of the pairs and targets.
        seed: the run's seed.
    """

    def __init__(self, *, labels: torch.Tensor, num_classes: int, seed: int) -> None:
        labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.dim() != 1 or (labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes)):
            raise ValueError(f"labels must be a (N,) tensor of expressions in 0..{num_classes - 1}")
        self.num_classes = num_classes
        self.seed = seed
        self.pools = tuple((labels == k).nonzero().flatten() for k in range(num_classes))
        self.classes = tuple(k for k, pool in enumerate(self.pools) if len(pool))
        if len(self.classes) < 2:
            raise ValueError(f"the switch needs faces of at least 2 expressions; the data has {len(self.classes)}")
        self.pairs = tuple(itertools.combinations(self.classes, 2))
        self._present = torch.zeros(num_classes, dtype=torch.bool)
        self._present[list(self.classes)] = True

    def pair(self, step: int) -> tuple[int, int]:
        """The expression pair (i, j), i < j, of global step ``step``: each pair once per cycle of len(pairs) steps."""
        cycle, within = divmod(step, len(self.pairs))
        g = torch.Generator().manual_seed((self.seed + 1) * 7_919 + cycle * 104_729 + _PAIR_STREAM)
        return self.pairs[int(torch.randperm(len(self.pairs), generator=g)[within])]

    def _pick(self, classes: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Face indices: for each entry, the face ``floor(u * size)`` of its class's pool (uniform draws)."""
        out = torch.empty_like(classes)
        for k in classes.unique().tolist():
            where = classes == k
            pool = self.pools[k]
            out[where] = pool[(u[where] * len(pool)).long().clamp_max(len(pool) - 1)]
        return out

    def draw(self, step: int, *, global_batch: int, local: slice = slice(None)) -> PairBatch:
        """This rank's ``local`` slice of the step's pair batch: ``global_batch`` faces per side, drawn with
        replacement from the two expressions of :meth:`pair`."""
        i, j = self.pair(step)
        u = torch.rand(2, global_batch, generator=step_generator(self.seed, step, _FACE_STREAM))[:, local]
        n = u.shape[1]
        idx_a = self._pick(torch.full((n,), i, dtype=torch.long), u[0])
        idx_b = self._pick(torch.full((n,), j, dtype=torch.long), u[1])
        return PairBatch(index_a=idx_a, index_b=idx_b, label_a=i, label_b=j)

    def references(
        self, labels: torch.Tensor, k: int, step: int, *, global_batch: int, local: slice = slice(None)
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets and reference faces for k transfers of each face (Fig. 12's kN).

        Args:
            labels: (b,) long expressions of this rank's ``local`` slice of a global batch of ``global_batch``.
            k: transfers per face, each to a different expression other than its own.

        Returns:
            targets (b, k) long, distinct per row and never the face's own expression; references (b, k) long,
            indices of faces of those expressions, uniformly drawn.
        """
        if not 0 <= k < len(self.classes):
            raise ValueError(f"cannot draw {k} other expressions per face: the data has {len(self.classes)}")
        g = step_generator(self.seed, step, _REFERENCE_STREAM)
        scores = torch.rand(global_batch, self.num_classes, generator=g)[local]
        u = torch.rand(global_batch, max(k, 1), generator=g)[local][:, :k]
        labels = torch.as_tensor(labels, dtype=torch.long)
        if scores.shape[0] != labels.shape[0]:
            raise ValueError(f"{labels.shape[0]} labels for a local batch of {scores.shape[0]}")
        allowed = self._present.expand_as(scores).clone()
        allowed[torch.arange(len(labels)), labels] = False
        targets = scores.masked_fill(~allowed, -1.0).topk(k, dim=1).indices
        refs = self._pick(targets.flatten(), u.flatten()).view_as(targets)
        return targets, refs


__all__ = ["ExpressionPairSampler", "PairBatch"]
