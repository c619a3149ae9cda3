"""Subject-independent k-fold splits for the small posed datasets (CK+, JAFFE).

Split names:

- ``all``: every image.
- ``fold{i}of{k}``: the test fold ``i`` (1-based, ``1 <= i <= k``) of a ``k``-fold split.
- ``train{i}of{k}``: everything except fold ``i`` (the matching training set).

Folds are assigned per subject, so a subject's images are all in one fold and a training set never
shares a subject with its test fold. Assignment is deterministic: the distinct subject IDs are sorted
and dealt round-robin, ``sorted_subjects[j] -> fold (j % k) + 1``. With 10 JAFFE subjects and 10 folds
this is leave-one-subject-out; 10 folds is the usual CK+ protocol.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from genfer.data.base import DatasetLayoutError

_FOLD_SPLIT = re.compile(r"^(fold|train)(\d+)of(\d+)$")


def parse_fold_split(split: str, dataset: str) -> tuple[str, int, int] | None:
    """``None`` for ``all``; else ``(kind, i, k)`` with kind ``"fold"`` or ``"train"`` and 1-based ``i``."""
    key = split.strip().lower()
    if key == "all":
        return None
    m = _FOLD_SPLIT.match(key)
    if m is None:
        raise DatasetLayoutError(
            f"{dataset}: unknown split {split!r}; use all, fold{{i}}of{{k}} or train{{i}}of{{k}} (e.g. fold1of10)"
        )
    kind, i, k = m.group(1), int(m.group(2)), int(m.group(3))
    if k < 2:
        raise DatasetLayoutError(f"{dataset}: split {split!r} needs at least 2 folds")
    if not 1 <= i <= k:
        raise DatasetLayoutError(f"{dataset}: fold index in {split!r} must be 1..{k}")
    return kind, i, k


def subject_folds(subjects: Sequence[str], k: int) -> dict[str, int]:
    """Map each distinct subject ID to its fold ``1..k`` (sorted IDs dealt round-robin)."""
    return {s: j % k + 1 for j, s in enumerate(sorted(set(subjects)))}


def fold_mask(subjects: Sequence[str | None], split: str, dataset: str) -> np.ndarray:
    """Boolean mask over images selecting ``split`` (see the module docstring).

    Args:
        subjects: the subject ID of every image (``None`` where unknown; only allowed with ``all``).
        split: ``all``, ``fold{i}of{k}`` or ``train{i}of{k}``.
        dataset: dataset name for error messages.
    """
    parsed = parse_fold_split(split, dataset)
    if parsed is None:
        return np.ones(len(subjects), bool)
    kind, i, k = parsed
    if any(s is None for s in subjects):
        raise DatasetLayoutError(f"{dataset}: split {split!r} needs subject IDs, and some image names carry none")
    folds = subject_folds(subjects, k)  # type: ignore[arg-type]
    if len(folds) < k:
        raise DatasetLayoutError(f"{dataset}: a {k}-fold split needs at least {k} subjects, found {len(folds)}")
    in_fold = np.array([folds[s] == i for s in subjects], bool)  # type: ignore[index]
    return in_fold if kind == "fold" else ~in_fold
