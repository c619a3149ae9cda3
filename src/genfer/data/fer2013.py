"""FER2013 reader, for both forms in which it is distributed.

(a) The original ``fer2013.csv`` (columns ``emotion, pixels, Usage``; ``Usage`` is ``Training``,
    ``PublicTest`` or ``PrivateTest``; ``pixels`` holds 2304 space-separated grey values of a 48x48
    face; ``emotion`` codes per :data:`genfer.labels.FER2013_CODES`). ``root`` is the CSV itself or a
    folder containing it (directly or in ``fer2013/``). Rows are parsed once; each image is decoded from
    its row only when loaded. Ids are the 0-based row numbers in the CSV (the ``N`` in FERPlus's
    ``ferN.png``).
(b) The image-folder release: ``train/<class>/Training_*.jpg`` and ``test/<class>/PublicTest_*.jpg`` /
    ``PrivateTest_*.jpg`` with class folders ``angry disgust fear happy neutral sad surprise``. Ids are
    paths relative to ``root``.

Splits: ``train``; ``PublicTest`` (alias ``valid``/``val``: FERPlus calls it FER2013Valid);
``PrivateTest``; ``test`` (PublicTest + PrivateTest, i.e. all of ``test/``). Always 7 classes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from genfer.data.base import DatasetLayoutError, FaceImages, require_path
from genfer.data.generic import scan_class_folders
from genfer.labels import EMOTIONS, EMOTIONS_7, FER2013_CODES

SIDE = 48
CODE_TO_INDEX = {code: EMOTIONS.index(name) for code, name in FER2013_CODES.items()}

#: Accepted split spellings (lower case) -> canonical split.
SPLITS = {
    "train": "train",
    "training": "train",
    "publictest": "PublicTest",
    "public": "PublicTest",
    "valid": "PublicTest",
    "val": "PublicTest",
    "privatetest": "PrivateTest",
    "private": "PrivateTest",
    "test": "test",
}
#: Canonical split -> ``Usage`` values of the CSV.
USAGES = {
    "train": ("Training",),
    "PublicTest": ("PublicTest",),
    "PrivateTest": ("PrivateTest",),
    "test": ("PublicTest", "PrivateTest"),
}


def _canonical_split(split: str) -> str:
    key = split.strip().lower()
    if key not in SPLITS:
        raise DatasetLayoutError(f"fer2013: unknown split {split!r}; use train, PublicTest, PrivateTest or test")
    return SPLITS[key]


def decode_pixels(text: str, where: str = "fer2013.csv") -> Image.Image:
    """The 48x48 ``L`` image of one ``pixels`` cell (2304 space-separated integers, row-major)."""
    values = text.split()
    if len(values) != SIDE * SIDE:
        raise DatasetLayoutError(f"fer2013: {where}: {len(values)} pixel values, expected {SIDE * SIDE}")
    try:
        arr = np.array(values, dtype=np.int32)
    except ValueError:
        raise DatasetLayoutError(f"fer2013: {where}: pixels are not integers") from None
    if arr.min() < 0 or arr.max() > 255:
        raise DatasetLayoutError(f"fer2013: {where}: pixel values outside 0..255")
    return Image.fromarray(arr.astype(np.uint8).reshape(SIDE, SIDE))


def _find_csv(root: Path) -> Path | None:
    if root.is_file():
        return root
    for candidate in (root / "fer2013.csv", root / "fer2013" / "fer2013.csv"):
        if candidate.is_file():
            return candidate
    return None


def _load_csv(csv_path: Path, split: str) -> FaceImages:
    usages = USAGES[split]
    rows: list[int] = []
    labels: list[int] = []
    pixels: list[str] = []
    found_usages: set[str] = set()
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in ("emotion", "pixels", "Usage") if c not in fields]
        if missing:
            raise DatasetLayoutError(
                f"fer2013: {csv_path.name} lacks column(s) {', '.join(missing)} "
                f"(header found: {', '.join(fields) or 'none'}); expected emotion,pixels,Usage"
            )
        reader.fieldnames = fields
        for row_index, row in enumerate(reader):
            usage = (row["Usage"] or "").strip()
            found_usages.add(usage)
            if usage not in usages:
                continue
            try:
                code = int(row["emotion"])
            except (TypeError, ValueError):
                raise DatasetLayoutError(
                    f"fer2013: {csv_path.name} row {row_index}: emotion {row['emotion']!r} is not an integer"
                ) from None
            if code not in CODE_TO_INDEX:
                raise DatasetLayoutError(f"fer2013: {csv_path.name} row {row_index}: emotion code {code} outside 0..6")
            rows.append(row_index)
            labels.append(CODE_TO_INDEX[code])
            pixels.append(row["pixels"] or "")
    if not rows:
        raise DatasetLayoutError(
            f"fer2013: no {'/'.join(usages)} rows in {csv_path} (Usage values found: {', '.join(sorted(found_usages)) or 'none'})"
        )
    decode_pixels(pixels[0], f"{csv_path.name} row {rows[0]}")  # fail early on a malformed file

    def load(i: int) -> Image.Image:
        return decode_pixels(pixels[i], f"{csv_path.name} row {rows[i]}")

    return FaceImages(
        name=f"fer2013/{split}",
        classes=EMOTIONS_7,
        labels=np.array(labels, np.int64),
        ids=[str(r) for r in rows],
        loader=load,
    )


def _load_folders(root: Path, split: str) -> FaceImages:
    folder = "train" if split == "train" else "test"
    base = require_path(root / folder, f"{folder}/ folder (image-folder release)", "fer2013")
    paths, labels = scan_class_folders(base, "fer2013")
    if (labels >= len(EMOTIONS_7)).any():
        raise DatasetLayoutError(f"fer2013: {base} has a contempt folder; FER2013 has 7 classes")
    if split in ("PublicTest", "PrivateTest"):
        keep = [i for i, p in enumerate(paths) if p.name.startswith(f"{split}_")]
        if not keep:
            raise DatasetLayoutError(f"fer2013: no {split}_* images in {base}")
        paths = [paths[i] for i in keep]
        labels = labels[keep]
    return FaceImages.from_files(
        f"fer2013/{split}", EMOTIONS_7, paths, labels, root=root,
    )


def load_fer2013(root: str | Path, split: str) -> FaceImages:
    """Read a FER2013 split from ``fer2013.csv`` or from the ``train/``, ``test/`` image folders.

    Args:
        root: ``fer2013.csv``, a folder containing it, or the image-folder release root.
        split: ``train``, ``PublicTest``, ``PrivateTest`` or ``test`` (see the module docstring).
    """
    root = require_path(Path(root), "dataset root", "fer2013")
    split = _canonical_split(split)
    csv_path = _find_csv(root)
    if csv_path is not None:
        return _load_csv(csv_path, split)
    if (root / "train").is_dir() or (root / "test").is_dir():
        return _load_folders(root, split)
    raise DatasetLayoutError(f"fer2013: missing fer2013.csv (or train/ and test/ image folders) in {root}")
