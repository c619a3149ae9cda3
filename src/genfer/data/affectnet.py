"""AffectNet reader (manually annotated part).

Layout (``root``)::

    training.csv, validation.csv      # also accepted in Manually_Annotated_file_lists/
    Manually_Annotated_Images/<dir>/<hash>.jpg   # also Manually_Annotated/Manually_Annotated_Images/, or root itself

CSV columns: ``subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks,
expression, valence, arousal`` (a file without the header row is accepted when it has exactly these 9
columns). ``expression`` codes per :data:`genfer.labels.AFFECTNET_CODES`: 0..7 are emotions, 8 (none),
9 (uncertain) and 10 (no face) are dropped, and so is 7 (contempt) with ``num_classes=7``. Boxes come
from the ``face_*`` columns. Splits: ``train`` (``training.csv``) and ``valid`` (``validation.csv``,
the usual test set; aliases ``val``, ``validation``). Ids are the ``subDirectory_filePath`` values.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from genfer.data.base import DatasetLayoutError, FaceImages, path_loader, require_path
from genfer.labels import AFFECTNET_CODES, EMOTIONS, class_names

COLUMNS = (
    "subDirectory_filePath",
    "face_x",
    "face_y",
    "face_width",
    "face_height",
    "facial_landmarks",
    "expression",
    "valence",
    "arousal",
)
REQUIRED = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "expression")
CODE_TO_INDEX = {code: EMOTIONS.index(name) for code, name in AFFECTNET_CODES.items()}
SPLIT_FILES = {
    "train": "training.csv",
    "training": "training.csv",
    "valid": "validation.csv",
    "val": "validation.csv",
    "validation": "validation.csv",
}
CHECKED_IMAGES = 50
"""How many listed images are checked for existence at load time (the full list is large)."""


def _float(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else float("nan")
    except ValueError:
        return float("nan")


def read_annotations(path: Path) -> list[dict[str, str]]:
    """Rows of one AffectNet annotation CSV as dicts keyed by :data:`COLUMNS` names."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        first = next(reader, None)
        if first is None:
            raise DatasetLayoutError(f"affectnet: {path.name} is empty")
        header = [c.strip() for c in first]
        if "subDirectory_filePath" in header:
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise DatasetLayoutError(
                    f"affectnet: {path.name} lacks column(s) {', '.join(missing)} (header found: {', '.join(header)})"
                )
            rows = []
        elif len(first) == len(COLUMNS) and first[6].strip().lstrip("-").isdigit():
            header = list(COLUMNS)  # headerless file in the standard column order
            rows = [dict(zip(header, first))]
        else:
            raise DatasetLayoutError(
                f"affectnet: {path.name} has no subDirectory_filePath column (first row: {', '.join(first[:4])}...); "
                f"expected columns {','.join(COLUMNS)}"
            )
        rows.extend(dict(zip(header, r)) for r in reader if r)
    return rows


def load_affectnet(root: str | Path, split: str, *, num_classes: int = 7) -> FaceImages:
    """Read an AffectNet split with 7 (no contempt) or 8 classes.

    Args:
        root: dataset folder holding the annotation CSVs and ``Manually_Annotated_Images/``.
        split: ``train`` or ``valid`` (``val``, ``validation`` accepted).
        num_classes: 7 keeps expressions 0..6, 8 keeps 0..7.
    """
    root = require_path(Path(root), "dataset root", "affectnet")
    classes = class_names(num_classes)
    key = split.strip().lower()
    if key not in SPLIT_FILES:
        raise DatasetLayoutError(f"affectnet: unknown split {split!r}; use train or valid")
    csv_name = SPLIT_FILES[key]
    csv_path = next(
        (p for p in (root / csv_name, root / "Manually_Annotated_file_lists" / csv_name) if p.is_file()), None
    )
    if csv_path is None:
        raise DatasetLayoutError(f"affectnet: missing {csv_name} in {root} or {root / 'Manually_Annotated_file_lists'}")

    ids: list[str] = []
    labels: list[int] = []
    boxes: list[list[float]] = []
    for lineno, row in enumerate(read_annotations(csv_path), 2):
        try:
            code = int(float(row["expression"]))
        except (TypeError, ValueError):
            raise DatasetLayoutError(
                f"affectnet: {csv_path.name} row {lineno}: expression {row.get('expression')!r} is not a number"
            ) from None
        if not 0 <= code <= 10:
            raise DatasetLayoutError(f"affectnet: {csv_path.name} row {lineno}: expression code {code} outside 0..10")
        if code >= num_classes:
            continue
        ids.append(row["subDirectory_filePath"].strip())
        labels.append(CODE_TO_INDEX[code])
        boxes.append([_float(row.get(c)) for c in ("face_x", "face_y", "face_width", "face_height")])
    if not ids:
        raise DatasetLayoutError(f"affectnet: no rows with expression 0..{num_classes - 1} in {csv_path}")

    candidates = [
        root / "Manually_Annotated_Images",
        root / "Manually_Annotated" / "Manually_Annotated_Images",
        root,
    ]
    image_dir = next((d for d in candidates if (d / ids[0]).is_file()), None)
    if image_dir is None:
        looked = " or ".join(str(d) for d in candidates if d.is_dir())
        raise DatasetLayoutError(
            f"affectnet: images of {csv_path.name} not found (missing Manually_Annotated_Images/; looked in {looked}), "
            f"e.g. {ids[0]}"
        )
    paths = [image_dir / i for i in ids]
    step = max(1, len(paths) // CHECKED_IMAGES)
    absent = next((p for p in paths[::step][:CHECKED_IMAGES] if not p.is_file()), None)
    if absent is not None:
        raise DatasetLayoutError(f"affectnet: image listed in {csv_path.name} is missing: {absent}")
    return FaceImages(
        name=f"affectnet{num_classes}/{'train' if csv_name == 'training.csv' else 'valid'}",
        classes=classes,
        labels=np.array(labels, np.int64),
        ids=ids,
        loader=path_loader(paths),
        boxes=np.array(boxes, np.float32).reshape(-1, 4),
        paths=paths,
    )
