"""JAFFE reader: a folder of ``KA.AN1.39.tiff`` files (``subject.codeN.id``).

The two-letter code (:data:`genfer.labels.JAFFE_CODES`: NE HA SU SA AN DI FE) gives the label, the
first part the subject (10 subjects). Files are looked for in ``root`` and, if none are there, one
folder level down (e.g. ``root/jaffedbase/``); any image suffix is accepted (``.tiff``, ``.tif``, ``.png``
...); other files are ignored. 7 classes. Splits: ``all``, or the subject-independent
``fold{i}of{k}`` / ``train{i}of{k}`` of :mod:`genfer.data.folds` (``fold{i}of10`` is leave-one-subject-out).
Ids are paths relative to ``root``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from genfer.data.base import DatasetLayoutError, FaceImages, require_path
from genfer.data.folds import fold_mask, parse_fold_split
from genfer.data.generic import is_image_file
from genfer.labels import EMOTIONS, EMOTIONS_7, JAFFE_CODES, NEUTRAL

NAME = re.compile(r"^([A-Za-z]{2})\.([A-Za-z]{2})(\d*)\.(\d+)\.[A-Za-z]+$")
"""``subject.codeN.id.ext``."""


def parse_name(name: str) -> tuple[str, int] | None:
    """``(subject, canonical index)`` of a JAFFE file name, ``None`` when the name does not follow the pattern.

    Raises :class:`DatasetLayoutError` for a well-formed name with an unknown expression code.
    """
    m = NAME.match(name)
    if m is None:
        return None
    code = m.group(2).upper()
    if code not in JAFFE_CODES:
        raise DatasetLayoutError(f"jaffe: unknown expression code {code} in {name}; expected {', '.join(JAFFE_CODES)}")
    return m.group(1).upper(), EMOTIONS.index(JAFFE_CODES[code])


def _scan(folder: Path) -> list[tuple[Path, str, int]]:
    out = []
    for p in sorted(folder.iterdir()):
        if is_image_file(p):
            parsed = parse_name(p.name)
            if parsed is not None:
                out.append((p, *parsed))
    return out


def load_jaffe(root: str | Path, split: str = "all", *, include_neutral: bool = True) -> FaceImages:
    """Read JAFFE.

    Args:
        root: folder of ``KA.AN1.39.tiff``-style files (or a folder one level above it).
        split: ``all``, ``fold{i}of{k}`` (test fold ``i``, 1-based) or ``train{i}of{k}``.
        include_neutral: keep the NE images (``False`` gives the 6-emotion protocol; still 7 class slots).
    """
    root = require_path(Path(root), "dataset root", "jaffe")
    parse_fold_split(split, "jaffe")
    if not root.is_dir():
        raise DatasetLayoutError(f"jaffe: not a directory: {root}")
    items = _scan(root)
    if not items:
        for sub in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
            items.extend(_scan(sub))
    if not items:
        raise DatasetLayoutError(f"jaffe: missing SUBJECT.CODEn.ID image files (e.g. KA.AN1.39.tiff) in {root}")
    paths = [p for p, _, _ in items]
    subjects = [s for _, s, _ in items]
    labels = np.array([lab for _, _, lab in items], np.int64)
    keep = fold_mask(subjects, split, "jaffe")
    if not include_neutral:
        keep &= labels != NEUTRAL
    idx = np.flatnonzero(keep)
    kept = [paths[i] for i in idx]
    return FaceImages.from_files(
        f"jaffe/{split}", EMOTIONS_7, kept, labels[idx], root=root,
    )
