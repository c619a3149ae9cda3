"""FERPlus reader: ``FER2013Train|Valid|Test/`` folders of ``fer%07d.png`` with ``label.csv`` votes.

``label.csv`` rows are ``name, "(x, y, w, h)", 10 vote counts`` in the order of
:data:`genfer.labels.FERPLUS_VOTE_COLUMNS` (8 emotions, unknown, NF).

Majority convention (the one the data README specifies): the label is the emotion with the most
votes among the 8 emotions; an image is dropped when ``unknown`` or ``NF`` has at least as many votes as
that emotion, or when two emotions tie for the most votes. Vote-distribution targets are the 8 emotion
votes normalised to sum 1.

With ``label_source="fer2013"`` the same images carry FER2013's original 7-class label from
``fer2013_labels.csv`` (columns ``image, usage, fer2013_label, ambiguous``), next to the split folders.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from genfer.data.base import DatasetLayoutError, FaceImages, path_loader, require_path
from genfer.labels import EMOTIONS, EMOTIONS_7, canonical_name

SPLIT_FOLDERS = {"train": "FER2013Train", "valid": "FER2013Valid", "test": "FER2013Test"}


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """Majority labels of FERPlus vote rows.

    Args:
        votes: ``(N, 10)`` vote counts (8 emotions, unknown, NF).

    Returns:
        ``(N,)`` int64 canonical index, ``-1`` where the image is dropped by the convention.
    """
    votes = np.asarray(votes)
    emo = votes[:, :8]
    top = emo.max(axis=1)
    label = emo.argmax(axis=1).astype(np.int64)
    tie = (emo == top[:, None]).sum(axis=1) > 1
    unclear = (votes[:, 8] >= top) | (votes[:, 9] >= top)
    label[tie | unclear] = -1
    return label


def read_label_csv(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Parse one ``label.csv``: names, ``(N, 4)`` boxes and ``(N, 10)`` votes."""
    names, boxes, votes = [], [], []
    with open(path, newline="") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if not row:
                continue
            if len(row) != 12:
                raise DatasetLayoutError(f"ferplus: {path}:{lineno}: expected 12 columns, found {len(row)}")
            names.append(row[0])
            boxes.append([float(v) for v in row[1].strip("() ").split(",")])
            votes.append([float(v) for v in row[2:]])
    return names, np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(votes, np.float32).reshape(-1, 10)


def read_fer2013_labels(path: Path) -> dict[str, tuple[int, bool]]:
    """``image name -> (canonical 7-class index, ambiguous)`` from ``fer2013_labels.csv``."""
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out[row["image"]] = (EMOTIONS.index(canonical_name(row["fer2013_label"])), row["ambiguous"] == "1")
    return out


def load_ferplus(
    root: str | Path,
    split: str,
    *,
    label_source: str = "majority",
    keep_dropped: bool = False,
    include_ambiguous: bool = True,
) -> FaceImages:
    """Read a FERPlus split.

    Args:
        root: folder holding ``FER2013Train/``, ``FER2013Valid/`` (and optionally ``FER2013Test/``).
        split: ``train``, ``valid`` or ``test`` (or the folder name itself).
        label_source: ``"majority"`` (8 classes, FERPlus votes) or ``"fer2013"`` (7 classes, original
            FER2013 labels from ``fer2013_labels.csv``).
        keep_dropped: keep images the majority convention drops (label ``-1``; useful with vote targets).
        include_ambiguous: with ``fer2013`` labels, keep the images flagged ``ambiguous``.
    """
    root = Path(root)
    folder = SPLIT_FOLDERS.get(split.lower(), split)
    if folder not in SPLIT_FOLDERS.values():
        raise DatasetLayoutError(f"ferplus: unknown split {split!r}; use train, valid or test")
    split_dir = require_path(root / folder, f"split folder {folder}/", "ferplus")
    names, boxes, votes = read_label_csv(require_path(split_dir / "label.csv", "label.csv", "ferplus"))
    if label_source == "majority":
        classes = EMOTIONS
        labels = majority_labels(votes)
        emo = votes[:, :8]
        totals = emo.sum(axis=1, keepdims=True)
        dist = np.divide(emo, totals, out=np.zeros_like(emo), where=totals > 0)
        keep = np.ones(len(names), bool) if keep_dropped else labels >= 0
    elif label_source == "fer2013":
        classes = EMOTIONS_7
        table = read_fer2013_labels(require_path(root / "fer2013_labels.csv", "fer2013_labels.csv", "ferplus"))
        missing = [n for n in names if n not in table]
        if missing:
            raise DatasetLayoutError(f"ferplus: {len(missing)} images of {folder} not in fer2013_labels.csv")
        labels = np.array([table[n][0] for n in names], np.int64)
        ambiguous = np.array([table[n][1] for n in names])
        dist = None
        keep = np.ones(len(names), bool) if include_ambiguous else ~ambiguous
    else:
        raise ValueError(f"ferplus: label_source must be 'majority' or 'fer2013', not {label_source!r}")
    idx = np.flatnonzero(keep)
    paths = [split_dir / names[i] for i in idx]
    absent = [p for p in paths[:50] if not p.exists()]
    if absent:
        raise DatasetLayoutError(f"ferplus: image listed in label.csv is missing: {absent[0]}")
    return FaceImages(
        name=f"ferplus/{split}" + ("" if label_source == "majority" else "/fer2013-labels"),
        classes=classes,
        labels=labels[idx],
        ids=[names[i] for i in idx],
        loader=path_loader(paths),
        votes=None if dist is None else dist[idx].astype(np.float32),
        boxes=boxes[idx],
        paths=paths,
    )
