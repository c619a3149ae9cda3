"""CK+ (extended Cohn-Kanade) reader.

Two layouts are accepted:

(a) The release: ``cohn-kanade-images/S005/001/S005_001_00000011.png`` frames and
    ``Emotion/S005/001/S005_001_00000011_emotion.txt`` (also ``Emotion_labels/Emotion/``) holding one
    float code like ``3.0000000e+00`` (:data:`genfer.labels.CKPLUS_CODES`) for the sequences that have
    an emotion label. Standard protocol: the last ``peak_frames`` frames of every labelled sequence get
    its label; with ``include_neutral=True`` the first frame of each labelled sequence is added as
    neutral. Unlabelled sequences are skipped.
(b) The common pre-extracted form ``CK+48/<class>/*.png`` (class folders anger, contempt, disgust, fear,
    happy, sadness, surprise; file names ``S010_004_00000017.png``). ``root`` may be ``CK+48`` or hold it.

Classes: all 8 canonical names (CK+ has contempt), or 7 with ``include_contempt=False`` (contempt
images dropped). Splits: ``all``, or the subject-independent ``fold{i}of{k}`` / ``train{i}of{k}`` of
:mod:`genfer.data.folds` (10 folds is the usual protocol). Ids are paths relative to the image root.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from genfer.data.base import DatasetLayoutError, FaceImages, require_path
from genfer.data.folds import fold_mask, parse_fold_split
from genfer.data.generic import is_image_file, scan_class_folders
from genfer.labels import CKPLUS_CODES, EMOTIONS, EMOTIONS_7, NEUTRAL, SYNONYMS

CODE_TO_INDEX = {code: EMOTIONS.index(name) for code, name in CKPLUS_CODES.items()}
CONTEMPT = EMOTIONS.index("contempt")
_SUBJECT = re.compile(r"^(S\d+)_", re.IGNORECASE)


def read_emotion_code(path: Path) -> int:
    """The canonical index stored in one ``*_emotion.txt`` file."""
    text = path.read_text().strip()
    try:
        code = int(float(text.split()[0]))
    except (IndexError, ValueError):
        raise DatasetLayoutError(f"ckplus: {path}: expected an emotion code like 3.0000000e+00, found {text[:40]!r}") from None
    if code not in CODE_TO_INDEX:
        raise DatasetLayoutError(f"ckplus: {path}: emotion code {code} outside 0..7")
    return CODE_TO_INDEX[code]


def _sequences(root: Path, peak_frames: int, include_neutral: bool) -> tuple[Path, list[Path], list[int], list[str]]:
    images = root / "cohn-kanade-images"
    emotion = next((d for d in (root / "Emotion", root / "Emotion_labels" / "Emotion") if d.is_dir()), None)
    if emotion is None:
        raise DatasetLayoutError(f"ckplus: missing Emotion/ (the *_emotion.txt label folder) in {root}")
    label_files = sorted(emotion.glob("*/*/*_emotion.txt"))
    if not label_files:
        raise DatasetLayoutError(f"ckplus: no Emotion/<subject>/<sequence>/*_emotion.txt files in {emotion}")
    paths: list[Path] = []
    labels: list[int] = []
    subjects: list[str] = []
    seen: set[tuple[str, str]] = set()
    for label_file in label_files:
        subject, sequence = label_file.parent.parent.name, label_file.parent.name
        if (subject, sequence) in seen:
            continue
        seen.add((subject, sequence))
        label = read_emotion_code(label_file)
        seq_dir = images / subject / sequence
        frames = sorted(p for p in seq_dir.iterdir() if is_image_file(p)) if seq_dir.is_dir() else []
        if not frames:
            raise DatasetLayoutError(
                f"ckplus: labelled sequence {subject}/{sequence} has no frames in {seq_dir}"
            )
        peaks = frames[-peak_frames:]
        if include_neutral and frames[0] not in peaks:
            paths.append(frames[0])
            labels.append(NEUTRAL)
            subjects.append(subject)
        paths.extend(peaks)
        labels.extend([label] * len(peaks))
        subjects.extend([subject] * len(peaks))
    return images, paths, labels, subjects


def _folders(base: Path) -> tuple[Path, list[Path], list[int], list[str | None]]:
    paths, labels = scan_class_folders(base, "ckplus")
    subjects: list[str | None] = []
    for p in paths:
        m = _SUBJECT.match(p.name)
        subjects.append(m.group(1).upper() if m else None)
    return base, paths, labels.tolist(), subjects


def load_ckplus(
    root: str | Path,
    split: str = "all",
    *,
    peak_frames: int = 3,
    include_neutral: bool = False,
    include_contempt: bool = True,
) -> FaceImages:
    """Read CK+ (release layout or ``CK+48`` folders).

    Args:
        root: folder holding ``cohn-kanade-images/`` and ``Emotion/``, or ``CK+48/`` (or ``CK+48`` itself).
        split: ``all``, ``fold{i}of{k}`` (test fold ``i``, 1-based) or ``train{i}of{k}``.
        peak_frames: how many last frames of a labelled sequence to use (release layout).
        include_neutral: add each labelled sequence's first frame as neutral (release layout).
        include_contempt: keep contempt (8 classes); ``False`` drops those images (7 classes).
    """
    root = require_path(Path(root), "dataset root", "ckplus")
    parse_fold_split(split, "ckplus")  # reject a bad split before scanning
    if peak_frames < 1:
        raise ValueError(f"ckplus: peak_frames must be at least 1, not {peak_frames}")
    if (root / "cohn-kanade-images").is_dir():
        image_root, paths, labels, subjects = _sequences(root, peak_frames, include_neutral)
    elif (root / "CK+48").is_dir():
        image_root, paths, labels, subjects = _folders(root / "CK+48")
    elif any(d.is_dir() and d.name.lower() in SYNONYMS for d in root.iterdir()):
        image_root, paths, labels, subjects = _folders(root)
    else:
        raise DatasetLayoutError(
            f"ckplus: missing cohn-kanade-images/ + Emotion/ (or CK+48/<class>/ folders) in {root}"
        )
    label_arr = np.array(labels, np.int64)
    keep = fold_mask(subjects, split, "ckplus")
    if not include_contempt:
        keep &= label_arr != CONTEMPT
    idx = np.flatnonzero(keep)
    kept = [paths[i] for i in idx]
    return FaceImages.from_files(
        f"ckplus/{split}", EMOTIONS if include_contempt else EMOTIONS_7, kept, label_arr[idx], root=image_root,
    )
