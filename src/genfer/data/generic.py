"""Generic readers: an image folder per class, or a CSV of ``path,label`` rows.

``load_image_folder(root)`` reads ``root/<class>/*`` (or ``root/<split>/<class>/*``); class folder
names are any spelling :func:`genfer.labels.canonical_name` knows (``happy``, ``Happiness``, ``SA``...).

``load_csv(path)`` reads a CSV with a header and columns ``path`` and ``label`` (aliases: ``image`` /
``file`` / ``filename`` and ``emotion`` / ``expression``) plus an optional ``split`` column. Paths are
relative to the CSV's folder (or to an ``images/`` folder next to it); labels are emotion names or
canonical indices; an empty label means unlabelled (``-1``).

Both return 8 classes when any image is labelled contempt, else 7. Images are sorted by relative path.

The helpers :func:`images_in_folder` and :func:`scan_class_folders` are shared with the dataset-specific
readers that use a class-folder layout (FER2013 image release, CK+48).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from genfer.data.base import DatasetLayoutError, FaceImages, path_loader, require_path
from genfer.faces.io import IMAGE_EXTENSIONS
from genfer.labels import EMOTIONS, SYNONYMS, emotion_index

CONTEMPT = EMOTIONS.index("contempt")

PATH_COLUMNS = ("path", "image", "file", "filename")
LABEL_COLUMNS = ("label", "emotion", "expression")
SPLIT_NAMES = frozenset({"train", "training", "val", "valid", "validation", "test", "testing"})


def is_image_file(path: Path) -> bool:
    """True for a visible regular file with an image suffix."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".") and path.is_file()


def images_in_folder(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if is_image_file(p))


def _classes_for(labels: np.ndarray) -> tuple[str, ...]:
    return EMOTIONS if (labels == CONTEMPT).any() else EMOTIONS[:7]


def scan_class_folders(base: Path, dataset: str) -> tuple[list[Path], np.ndarray]:
    """Images of ``base/<class>/*``: sorted paths and canonical label indices.

    Raises :class:`DatasetLayoutError` when ``base`` has no class folders, when a folder name is not an
    emotion name (all unknown names are listed), or when there are no images at all.
    """
    dirs = sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not dirs:
        raise DatasetLayoutError(f"{dataset}: no class folders (e.g. happy/, neutral/) in {base}")
    unknown = [d.name for d in dirs if d.name.strip().lower() not in SYNONYMS]
    if unknown:
        hint = ""
        if all(u.lower() in SPLIT_NAMES for u in unknown):
            hint = " (these look like split folders: pass split=...)"
        raise DatasetLayoutError(
            f"{dataset}: unknown class folder(s) {', '.join(unknown)} in {base}{hint}; "
            f"expected emotion names such as {', '.join(EMOTIONS)}"
        )
    items: list[tuple[str, Path, int]] = []
    for d in dirs:
        label = emotion_index(d.name)
        items.extend((p.relative_to(base).as_posix(), p, label) for p in images_in_folder(d))
    if not items:
        raise DatasetLayoutError(f"{dataset}: no images in the class folders of {base}")
    items.sort(key=lambda t: t[0])
    return [p for _, p, _ in items], np.array([lab for _, _, lab in items], np.int64)


def load_image_folder(root: str | Path, split: str | None = None) -> FaceImages:
    """Read ``root/<class>/*`` or, with ``split``, ``root/<split>/<class>/*``.

    Args:
        root: dataset folder.
        split: optional split folder name under ``root`` (``train``, ``test``...).

    Ids are paths relative to ``root``.
    """
    root = require_path(Path(root), "dataset folder", "folder")
    base = require_path(root / split, f"split folder {split}/", "folder") if split else root
    if not base.is_dir():
        raise DatasetLayoutError(f"folder: not a directory: {base}")
    paths, labels = scan_class_folders(base, "folder")
    return FaceImages.from_files(
        f"folder/{split}" if split else "folder", _classes_for(labels), paths, labels, root=root,
    )


def _find_csv(root: Path) -> Path:
    if root.is_file():
        return root
    named = root / "labels.csv"
    if named.is_file():
        return named
    found = sorted(root.glob("*.csv"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise DatasetLayoutError(f"csv: missing labels.csv (no .csv file) in {root}")
    raise DatasetLayoutError(
        f"csv: {len(found)} .csv files and no labels.csv in {root}; pass the CSV file itself"
    )


def _pick_column(fields: list[str], names: tuple[str, ...]) -> str | None:
    lower = {f.strip().lower(): f for f in fields}
    return next((lower[n] for n in names if n in lower), None)


def _parse_label(text: str, where: str) -> int:
    text = text.strip()
    if not text:
        return -1
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < len(EMOTIONS):
            raise DatasetLayoutError(f"csv: {where}: label index {index} outside 0..{len(EMOTIONS) - 1}")
        return index
    if text.lower() not in SYNONYMS:
        raise DatasetLayoutError(f"csv: {where}: unknown emotion label {text!r}; expected one of {', '.join(EMOTIONS)}")
    return emotion_index(text)


def load_csv(path_or_root: str | Path, split: str | None = None) -> FaceImages:
    """Read a labelled image list from a CSV.

    Args:
        path_or_root: the CSV file, or a folder holding ``labels.csv`` (or exactly one ``.csv``).
        split: keep only rows whose ``split`` column equals this (case-insensitive); requires that column.

    The CSV needs a header with a path column (``path``/``image``/``file``/``filename``) and a label
    column (``label``/``emotion``/``expression``). Relative paths resolve against the CSV's folder, or
    against ``images/`` next to it when not found there. Ids are the paths as written in the CSV.
    """
    source = Path(path_or_root)
    require_path(source, "CSV file or folder", "csv")
    csv_path = _find_csv(source)
    folder = csv_path.parent
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        path_col = _pick_column(fields, PATH_COLUMNS)
        label_col = _pick_column(fields, LABEL_COLUMNS)
        split_col = _pick_column(fields, ("split", "usage"))
        if path_col is None or label_col is None:
            missing = "path" if path_col is None else "label"
            raise DatasetLayoutError(
                f"csv: {csv_path.name} has no {missing!r} column (header found: {', '.join(fields) or 'none'}); "
                "expected a header with columns path,label[,split]"
            )
        if split is not None and split_col is None:
            raise DatasetLayoutError(f"csv: split {split!r} requested but {csv_path.name} has no 'split' column")
        rows: list[tuple[str, int]] = []
        seen_splits: set[str] = set()
        for lineno, row in enumerate(reader, 2):
            rel = (row.get(path_col) or "").strip()
            if not rel:
                continue
            if split is not None:
                value = (row.get(split_col) or "").strip()
                seen_splits.add(value)
                if value.lower() != split.lower():
                    continue
            rows.append((rel, _parse_label(row.get(label_col) or "", f"{csv_path.name}:{lineno}")))
    if not rows:
        if split is not None:
            raise DatasetLayoutError(
                f"csv: no rows with split {split!r} in {csv_path.name} (splits found: {', '.join(sorted(seen_splits)) or 'none'})"
            )
        raise DatasetLayoutError(f"csv: no image rows in {csv_path}")
    rows.sort(key=lambda r: r[0])
    paths: list[Path] = []
    missing_paths: list[Path] = []
    for rel, _ in rows:
        p = folder / rel
        if not p.is_file() and not Path(rel).is_absolute() and (folder / "images" / rel).is_file():
            p = folder / "images" / rel
        if not p.is_file():
            missing_paths.append(p)
        paths.append(p)
    if missing_paths:
        raise DatasetLayoutError(
            f"csv: {len(missing_paths)} image(s) listed in {csv_path.name} not found, e.g. {missing_paths[0]}"
        )
    labels = np.array([lab for _, lab in rows], np.int64)
    return FaceImages(
        name=f"csv/{split}" if split else "csv",
        classes=_classes_for(labels),
        labels=labels,
        ids=[rel for rel, _ in rows],
        loader=path_loader(paths),
        paths=paths,
    )
