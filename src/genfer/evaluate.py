"""Evaluate a recognizer on any dataset reader and split (``genfer eval``).

Face handling per dataset: ``crop`` feeds each image (or its annotated face box) as an aligned crop,
right for datasets distributed as aligned faces (FER2013, FERPlus, RAF-DB aligned, AffectNet boxes);
``detect`` runs detection + alignment first (CK+ and JAFFE frames, arbitrary folders / CSVs), falling
back to the whole image where no face is found, and counts how often that happened.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genfer.data.arrays import split_tensor
from genfer.data.registry import default_split, open_dataset
from genfer.metrics.classification import ClassificationReport, classification_report, plot_confusion

log = logging.getLogger(__name__)

CROP_DATASETS = {"fer2013", "ferplus", "rafdb", "affectnet7", "affectnet8"}


@dataclass
class EvalResult:
    """A classification report plus what was evaluated."""

    report: ClassificationReport
    dataset: str
    split: str | None
    model: str
    faces: str
    no_face: int

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "split": self.split, "model": self.model, "faces": self.faces,
                "no_face_fallbacks": self.no_face, **self.report.to_dict()}


def evaluate_dataset(
    recognizer: Any,
    dataset: str,
    root: str | Path,
    split: str | None = None,
    *,
    faces: str = "auto",
    limit: int = 0,
    progress: bool = False,
    **options: Any,
) -> EvalResult:
    """Evaluate ``recognizer`` (a :class:`genfer.Recognizer`) on ``dataset`` at ``root``.

    Args:
        split: defaults to the dataset's evaluation split (see ``default_split``).
        faces: ``crop``, ``detect`` or ``auto`` (by dataset, see module docstring).
        limit: evaluate only the first ``limit`` labelled images (0 = all).
        options: reader options (e.g. ``label_source="fer2013"`` for ferplus).
    """
    split = split if split is not None else default_split(dataset)
    ds = open_dataset(dataset, root, split, **options)
    keep = np.flatnonzero(ds.labels >= 0)
    if limit:
        keep = keep[:limit]
    ds = ds.subset(keep)
    mode = faces if faces != "auto" else ("crop" if dataset.lower() in CROP_DATASETS else "detect")
    no_face = 0
    if mode == "crop":
        images = split_tensor(ds, recognizer.image_size, recognizer.channels, progress=progress)
        arr = images.squeeze(1).numpy() if recognizer.channels == 1 else images.permute(0, 2, 3, 1).numpy()
        probs = np.concatenate([recognizer.predict_crops(arr[i : i + 1024]) for i in range(0, len(arr), 1024)]) \
            if len(arr) else np.zeros((0, len(recognizer.classes)))
    elif mode == "detect":
        from tqdm import tqdm

        rows = []
        for i in tqdm(range(len(ds)), disable=not progress, desc=f"eval {ds.name}", unit="img"):
            res = recognizer.predict([np.asarray(ds.image(i).convert("RGB"))])[0]
            if not res.faces:  # the pipeline's whole-image fallback only covers squarish images
                no_face += 1
                res = recognizer.predict([np.asarray(ds.image(i).convert("RGB"))], aligned=True)[0]
            elif res.faces[0].source == "whole-image":
                no_face += 1
            face = max(res.faces, key=lambda f: f.box[2] * f.box[3])
            rows.append([face.probabilities[c] for c in recognizer.classes])
        probs = np.asarray(rows, dtype=np.float32).reshape(-1, len(recognizer.classes))
    else:
        raise ValueError(f"faces must be 'crop', 'detect' or 'auto', not {faces!r}")
    report = classification_report(ds.labels, probs.argmax(1) if len(probs) else np.zeros(0, int),
                                   ds.classes, recognizer.classes)
    return EvalResult(report=report, dataset=dataset, split=split, model=recognizer.loaded.name, faces=mode,
                      no_face=no_face)


def save_eval(result: EvalResult, out_dir: str | Path) -> list[Path]:
    """Write ``metrics.json`` and ``confusion.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result.to_dict(), indent=2))
    title = f"{result.model} on {result.dataset}/{result.split}: acc {result.report.accuracy:.4f}"
    plot_confusion(result.report, str(out / "confusion.png"), title=title)
    return [out / "metrics.json", out / "confusion.png"]

