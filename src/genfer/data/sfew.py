"""SFEW 2.0 (Static Facial Expressions in the Wild, EmotiW) reader: movie frames in 7 classes.

Layout: one folder per split under ``root`` — ``Train/``, ``Val/`` and (unlabelled) ``Test/``, matched
case-insensitively (``train``, ``val``/``valid``/``validation``, ``test``). A split folder holds the 7 class folders
(``Angry``, ``Disgust``, ``Fear``, ``Happy``, ``Neutral``, ``Sad``, ``Surprise``) directly, or one level down (e.g.
``Train/Train_Aligned_Faces/<class>/``); with several such children, ``aligned=True`` picks the one whose name
contains ``aligned`` and ``aligned=False`` the other. The test split holds images without class folders and
gets label -1. IFER reports on ``val`` (the labelled evaluation split; the default).

The frames are whole movie stills: ``genfer eval`` detects and aligns the face first (``--faces detect``), except
for the aligned-face folders, which are crops (pass ``--faces crop``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genfer.data.base import DatasetLayoutError, FaceImages, require_path
from genfer.data.generic import images_in_folder, scan_class_folders
from genfer.labels import EMOTIONS_7, SYNONYMS

SPLITS = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}


def _split_folder(root: Path, split: str) -> Path:
    key = split.strip().lower()
    if key not in SPLITS:
        raise DatasetLayoutError(f"sfew: unknown split {split!r}; use train, val or test")
    for d in sorted(root.iterdir()):
        if d.is_dir() and d.name.lower() in SPLITS[key]:
            return d
    raise DatasetLayoutError(f"sfew: missing the {key} split folder ({'/, '.join(SPLITS[key])}/) in {root}")


def _has_classes(folder: Path) -> bool:
    return any(d.is_dir() and d.name.lower() in SYNONYMS for d in folder.iterdir())


def _class_root(split_dir: Path, aligned: bool) -> Path | None:
    """The folder holding the class folders (the split folder or one child), None for an unlabelled split."""
    if _has_classes(split_dir):
        return split_dir
    children = [d for d in sorted(split_dir.iterdir()) if d.is_dir() and _has_classes(d)]
    if len(children) > 1:
        children = [d for d in children if ("aligned" in d.name.lower()) == aligned] or children
    return children[0] if children else None


def load_sfew(root: str | Path, split: str = "val", *, aligned: bool = False) -> FaceImages:
    """Read split ``split`` (``train``, ``val`` or ``test``) of SFEW 2.0 at ``root`` (7 classes)."""
    root = require_path(Path(root), "dataset root", "sfew")
    split_dir = _split_folder(root, split)
    base = _class_root(split_dir, aligned)
    name = f"sfew/{split.strip().lower()}"
    if base is None:
        paths = sorted(p for d in [split_dir, *sorted(x for x in split_dir.iterdir() if x.is_dir())]
                       for p in images_in_folder(d))
        if not paths:
            raise DatasetLayoutError(f"sfew: no images and no class folders (Angry/, Happy/, ...) in {split_dir}")
        labels = np.full(len(paths), -1, np.int64)
    else:
        paths, labels = scan_class_folders(base, "sfew")
        if (labels >= len(EMOTIONS_7)).any():
            raise DatasetLayoutError(f"sfew: {base} has a contempt folder; SFEW has the 7 basic classes only")
        split_dir = base
    return FaceImages.from_files(name, EMOTIONS_7, paths, labels, root=split_dir)
