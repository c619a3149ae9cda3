"""CMU Multi-PIE reader: expressions under 15 camera poses, grouped by pose for per-pose accuracy.

Layout of the release: ``root/[data/]session0{1-4}/multiview/<subject>/<recording>/<camera>/<file>.png``, with
file names ``<subject>_<session>_<recording>_<camera>_<illumination>.png`` (e.g. ``001_01_01_051_07.png``:
subject 001, session 01, recording 01, camera 05_1, flash 07). Files are found by name anywhere below the
``session*`` folders, so partial copies (one pose, one flash) work too.

Expressions are fixed by session and recording (Multi-PIE's recording protocol):

=========  ========  ========  =======
session    rec 01    rec 02    rec 03
=========  ========  ========  =======
1          neutral   smile
2          neutral   surprise  squint
3          neutral   smile     disgust
4          neutral   neutral   scream
=========  ========  ========  =======

smile is read as happiness. squint and scream have no canonical emotion: they are dropped (``keep_all=True``
keeps them unlabelled, label -1). Each image's group is its pose (``"+15° (05_0)"``), so ``genfer eval`` reports
accuracy per pose as the switch-unit GAN's Table II. Yaw per camera as commonly tabulated for Multi-PIE (sign
conventions differ between papers); the elevated cameras 08_1 and 19_1 are named without a yaw.
Splits: ``all`` or subject-independent ``fold{i}of{k}`` / ``train{i}of{k}``.
"""

from __future__ import annotations

import re
from pathlib import Path

from genfer.data.base import DatasetLayoutError, FaceImages, require_path
from genfer.data.folds import fold_mask, parse_fold_split
from genfer.labels import EMOTIONS, EMOTIONS_7

RECORDINGS: dict[tuple[int, int], str] = {
    (1, 1): "neutral", (1, 2): "smile",
    (2, 1): "neutral", (2, 2): "surprise", (2, 3): "squint",
    (3, 1): "neutral", (3, 2): "smile", (3, 3): "disgust",
    (4, 1): "neutral", (4, 2): "neutral", (4, 3): "scream",
}
"""(session, recording) -> Multi-PIE's expression name."""

CANONICAL = {"neutral": "neutral", "smile": "happiness", "surprise": "surprise", "disgust": "disgust"}
"""Multi-PIE expressions with a canonical emotion (squint and scream have none)."""

YAW = {"110": -90, "120": -75, "090": -60, "080": -45, "130": -30, "140": -15, "051": 0, "050": 15, "041": 30,
       "190": 45, "200": 60, "010": 75, "240": 90}
"""Camera code (``05_1`` -> ``051``) -> yaw in degrees."""

_NAME = re.compile(r"^(\d{3})_(\d{2})_(\d{2})_(\d{3})_(\d{2})\.(?:png|jpe?g|bmp)$", re.IGNORECASE)


def pose_group(camera: str) -> str:
    """The group name of a camera code: ``"+15° (05_0)"``, or ``"08_1"`` for a camera without a tabulated yaw."""
    label = f"{camera[:2]}_{camera[2]}"
    return f"{YAW[camera]:+d}° ({label})" if camera in YAW else label


def _session_folders(root: Path) -> list[Path]:
    for base in (root, root / "data"):
        found = sorted(d for d in base.glob("session*") if d.is_dir()) if base.is_dir() else []
        if found:
            return found
    raise DatasetLayoutError(f"multipie: no session01/ ... session04/ folders in {root} (or {root / 'data'})")


def load_multipie(root: str | Path, split: str = "all", *, cameras: str | None = None,
                  illumination: str | None = None, keep_all: bool = False) -> FaceImages:
    """Read Multi-PIE's expression images (7 canonical classes; see the module docstring).

    Args:
        split: ``all``, ``fold{i}of{k}`` or ``train{i}of{k}`` (folds by subject).
        cameras: comma-separated camera codes to keep (``051,050`` or ``05_1,05_0``); default all.
        illumination: comma-separated flash numbers to keep (``07``); default all.
        keep_all: keep squint and scream images, unlabelled (-1).
    """
    root = require_path(Path(root), "dataset root", "multipie")
    parse_fold_split(split, "multipie")
    want_cams = None if cameras is None else {c.strip().replace("_", "") for c in str(cameras).split(",")}
    want_flash = None if illumination is None else {f"{int(f):02d}" for f in str(illumination).split(",")}
    paths, labels, subjects, groups = [], [], [], []
    for session_dir in _session_folders(root):
        for path in sorted(session_dir.rglob("*")):
            m = _NAME.match(path.name)
            if m is None:
                continue
            subject, session, recording, camera, flash = m.groups()
            expression = RECORDINGS.get((int(session), int(recording)))
            if expression is None:
                raise DatasetLayoutError(f"multipie: {path.name}: session {session} has no recording {recording}")
            if (want_cams and camera not in want_cams) or (want_flash and flash not in want_flash):
                continue
            if expression not in CANONICAL and not keep_all:
                continue
            paths.append(path)
            labels.append(EMOTIONS.index(CANONICAL[expression]) if expression in CANONICAL else -1)
            subjects.append(subject)
            groups.append(pose_group(camera))
    if not paths:
        raise DatasetLayoutError(f"multipie: no images named like 001_01_01_051_07.png under the session folders "
                                 f"of {root}" + (" matching --cameras/--illumination" if want_cams or want_flash else ""))
    ds = FaceImages.from_files(f"multipie/{split.strip().lower()}", EMOTIONS_7, paths, labels, root=root,
                               groups=groups)
    return ds.subset(fold_mask(subjects, split, "multipie"))
