"""RAF-DB (basic emotions) reader.

Layout of the release (``root`` may be the ``basic/`` folder or hold it)::

    EmoLabel/list_patition_label.txt     # (sic) "train_00001.jpg 5" / "test_0001.jpg 1"; also accepted in root/
    Image/aligned/train_00001_aligned.jpg  # 100x100 aligned faces; also accepted as root/aligned/
    Image/original/train_00001.jpg         # the original photos; also accepted as root/original/

Codes 1..7 per :data:`genfer.labels.RAFDB_CODES`. By default the aligned faces are used and the original
images only where no aligned file exists (some redistributions also name aligned files without the
``_aligned`` suffix; both spellings are accepted). Splits ``train`` and ``test``; 7 classes. Ids are the
names in the label file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genfer.data.base import DatasetLayoutError, FaceImages, path_loader, require_path
from genfer.labels import EMOTIONS, EMOTIONS_7, RAFDB_CODES

LABEL_FILE = "list_patition_label.txt"
CODE_TO_INDEX = {code: EMOTIONS.index(name) for code, name in RAFDB_CODES.items()}
VARIANTS = ("auto", "aligned", "original")


def _first_dir(*candidates: Path) -> Path | None:
    return next((c for c in candidates if c.is_dir()), None)


def read_partition_labels(path: Path) -> list[tuple[str, int]]:
    """``(image name, canonical index)`` for every line of ``list_patition_label.txt``."""
    out = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) not in CODE_TO_INDEX:
                raise DatasetLayoutError(
                    f"rafdb: {path.name}:{lineno}: expected '<image> <code 1..7>', found {line.strip()!r}"
                )
            out.append((parts[0], CODE_TO_INDEX[int(parts[1])]))
    return out


def load_rafdb(root: str | Path, split: str, *, variant: str = "auto") -> FaceImages:
    """Read a RAF-DB basic split.

    Args:
        root: the ``basic/`` folder (or a folder holding it).
        split: ``train`` or ``test``.
        variant: ``"auto"`` (aligned faces, original images where no aligned one exists), ``"aligned"``
            or ``"original"``.
    """
    root = require_path(Path(root), "dataset root", "rafdb")
    if not (root / "EmoLabel").is_dir() and not (root / LABEL_FILE).is_file() and (root / "basic").is_dir():
        root = root / "basic"
    key = split.strip().lower()
    if key not in ("train", "test"):
        raise DatasetLayoutError(f"rafdb: unknown split {split!r}; use train or test")
    if variant not in VARIANTS:
        raise ValueError(f"rafdb: variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    label_path = next((p for p in (root / "EmoLabel" / LABEL_FILE, root / LABEL_FILE) if p.is_file()), None)
    if label_path is None:
        raise DatasetLayoutError(f"rafdb: missing {LABEL_FILE} in {root} or {root / 'EmoLabel'}")
    entries = [(n, lab) for n, lab in read_partition_labels(label_path) if n.lower().startswith(key + "_")]
    if not entries:
        raise DatasetLayoutError(f"rafdb: no {key}_* entries in {label_path}")

    aligned = _first_dir(root / "Image" / "aligned", root / "aligned") if variant != "original" else None
    original = _first_dir(root / "Image" / "original", root / "original") if variant != "aligned" else None
    if aligned is None and original is None:
        wanted = {"auto": "aligned/ or original/", "aligned": "aligned/", "original": "original/"}[variant]
        raise DatasetLayoutError(f"rafdb: missing image folder {wanted} in {root} or {root / 'Image'}")
    aligned_names = {p.name for p in aligned.iterdir()} if aligned is not None else set()
    original_names = {p.name for p in original.iterdir()} if original is not None else set()

    paths: list[Path] = []
    missing: list[str] = []
    for name, _ in entries:
        stem, dot, ext = name.rpartition(".")
        aligned_name = f"{stem}_aligned.{ext}" if dot else f"{name}_aligned"
        if aligned_name in aligned_names:
            paths.append(aligned / aligned_name)  # type: ignore[operator]
        elif name in aligned_names:
            paths.append(aligned / name)  # type: ignore[operator]
        elif name in original_names:
            paths.append(original / name)  # type: ignore[operator]
        else:
            missing.append(name)
    if missing:
        looked = " or ".join(str(d) for d in (aligned, original) if d is not None)
        raise DatasetLayoutError(
            f"rafdb: {len(missing)} image(s) of {label_path.name} not found in {looked}, e.g. {missing[0]}"
        )
    return FaceImages(
        name=f"rafdb/{key}",
        classes=EMOTIONS_7,
        labels=np.array([lab for _, lab in entries], np.int64),
        ids=[n for n, _ in entries],
        loader=path_loader(paths),
        paths=paths,
    )
