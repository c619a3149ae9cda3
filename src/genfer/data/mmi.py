"""MMI Facial Expression Database reader, with the switch-unit GAN's protocol.

Layout (sequences as frame folders, the CK+-style restructuring most MMI users work from):

    root/labels.csv                      emotion,subject,sequence   (header optional; "," or ";" separated)
    root/<subject>/<sequence>/*.png      the frames of one sequence, in name order

``emotion`` is a class name (``anger``, ``Happy``, ...) or MMI's code 1–6 (1 anger, 2 disgust, 3 fear,
4 happiness, 5 sadness, 6 surprise). A sequence folder may instead hold one video (``.avi``/``.mp4``), whose frames
are read with OpenCV.

Protocol: MMI sequences go neutral → apex → neutral, so each labelled sequence gives its **first frame as
neutral** and its **three peak frames**: the ``peak_frames`` frames around the middle (``peak="middle"``), or the
last ones for sequences cut at the apex (``peak="last"``). Splits: ``all`` or the subject-independent
``fold{i}of{k}`` / ``train{i}of{k}`` of :mod:`genfer.data.folds` (10 folds is the usual protocol). Every image's
group is its subject, so ``genfer eval`` reports accuracy per subject.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from genfer.data.base import DatasetLayoutError, FaceImages, path_loader, require_path
from genfer.data.folds import fold_mask, parse_fold_split
from genfer.data.generic import images_in_folder
from genfer.labels import EMOTIONS, EMOTIONS_7, NEUTRAL, SYNONYMS

MMI_CODES = {1: "anger", 2: "disgust", 3: "fear", 4: "happiness", 5: "sadness", 6: "surprise"}
"""MMI's emotion codes."""

VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mpg", ".wmv")


def _emotion(value: str, where: str) -> int:
    text = value.strip()
    if text.isdigit():
        code = int(text)
        if code not in MMI_CODES:
            raise DatasetLayoutError(f"mmi: {where}: emotion code {code} outside 1..6")
        return EMOTIONS.index(MMI_CODES[code])
    if text.lower() not in SYNONYMS:
        raise DatasetLayoutError(f"mmi: {where}: unknown emotion {text!r}; use a class name or MMI's code 1..6")
    return EMOTIONS.index(SYNONYMS[text.lower()])


def read_labels(path: Path) -> list[tuple[int, str, str]]:
    """``(canonical label, subject, sequence)`` rows of ``labels.csv`` (header optional)."""
    text = path.read_text()
    rows = list(csv.reader(text.splitlines(), delimiter=";" if ";" in text.splitlines()[0] else ","))
    if rows and rows[0] and rows[0][0].strip().lower() in ("emotion", "expression", "expression_type", "label"):
        rows = rows[1:]
    out = []
    for n, row in enumerate(rows, start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 3:
            raise DatasetLayoutError(f"mmi: {path} row {n}: expected emotion,subject,sequence, found {row}")
        out.append((_emotion(row[0], f"{path} row {n}"), row[1].strip(), row[2].strip()))
    if not out:
        raise DatasetLayoutError(f"mmi: {path} lists no sequences")
    return out


def peak_indices(n_frames: int, count: int, where: str) -> list[int]:
    """Indices of the ``count`` peak frames of an ``n_frames`` sequence: centred on frame ``n_frames // 2``
    (``where="middle"``) or the last ones (``"last"``); never frame 0 (the neutral one) unless it is the only one."""
    if where == "last":
        start = n_frames - count
    elif where == "middle":
        start = n_frames // 2 - count // 2
    else:
        raise ValueError(f"mmi: peak must be 'middle' or 'last', not {where!r}")
    start = min(max(start, 1 if n_frames > count else 0), max(0, n_frames - count))
    return list(range(start, min(n_frames, start + count)))


def _video_frames(path: Path) -> tuple[int, Callable[[int], Image.Image]]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()

    def read(index: int) -> Image.Image:
        cap = cv2.VideoCapture(str(path))
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        cap.release()
        if not ok:
            raise DatasetLayoutError(f"mmi: cannot read frame {index} of {path}")
        return Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))

    return n, read


def load_mmi(root: str | Path, split: str = "all", *, peak_frames: int = 3, peak: str = "middle",
             include_neutral: bool = True) -> FaceImages:
    """Read MMI (see the module docstring): 7 classes, each labelled sequence's neutral and peak frames.

    Args:
        split: ``all``, ``fold{i}of{k}`` (test fold ``i``) or ``train{i}of{k}``, folds by subject.
        peak_frames: peak frames per sequence (3 in the protocol).
        peak: ``middle`` (onset-apex-offset sequences) or ``last``.
        include_neutral: add each sequence's first frame as neutral.
    """
    root = require_path(Path(root), "dataset root", "mmi")
    parse_fold_split(split, "mmi")
    if peak_frames < 1:
        raise ValueError(f"mmi: peak_frames must be at least 1, not {peak_frames}")
    rows = read_labels(require_path(root / "labels.csv", "labels.csv (emotion,subject,sequence rows)", "mmi"))
    ids, labels, subjects, loaders = [], [], [], []
    for label, subject, sequence in rows:
        folder = root / subject / sequence
        frames = images_in_folder(folder) if folder.is_dir() else []
        videos = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES] if folder.is_dir() else []
        if frames:
            n, read = len(frames), path_loader(frames)
        elif videos:
            n, read = _video_frames(videos[0])
        else:
            raise DatasetLayoutError(f"mmi: sequence {subject}/{sequence} in labels.csv has no frames or video in "
                                     f"{folder}")
        chosen = [(0, NEUTRAL)] if include_neutral and n > 1 else []
        chosen += [(i, label) for i in peak_indices(n, peak_frames, peak)]
        for index, lab in chosen:
            ids.append(f"{subject}/{sequence}#{index}")
            labels.append(lab)
            subjects.append(subject)
            loaders.append((read, index))
    ds = FaceImages(name=f"mmi/{split.strip().lower()}", classes=EMOTIONS_7, labels=np.array(labels), ids=ids,
                    loader=lambda i: loaders[i][0](loaders[i][1]), groups=[f"subject {s}" for s in subjects])
    return ds.subset(fold_mask(subjects, split, "mmi"))
