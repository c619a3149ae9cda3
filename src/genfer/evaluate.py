"""Evaluate a recognizer on any dataset reader and split (``genfer eval``).

Face handling per dataset: ``crop`` feeds each image (or its annotated face box) as an aligned crop,
right for datasets distributed as aligned faces (FER2013, FERPlus, RAF-DB aligned, AffectNet boxes);
``detect`` runs detection + alignment first (CK+ and JAFFE frames, arbitrary folders / CSVs), falling
back to the whole image where no face is found, and counts how often that happened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genfer.data.arrays import pixel_hashes, split_tensor
from genfer.data.base import drop_unreadable
from genfer.io.json_text import dumps as json_dumps
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
    backend: str | None = None
    duplicates: dict[str, Any] | None = None
    groups: dict[str, dict[str, float | int]] | None = None
    unreadable: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        extra = {k: v for k, v in (("backend", self.backend), ("duplicates", self.duplicates),
                                   ("per_group", self.groups), ("unreadable", self.unreadable)) if v is not None}
        return {"dataset": self.dataset, "split": self.split, "model": self.model, "faces": self.faces,
                "no_face_fallbacks": self.no_face, **extra, **self.report.to_dict()}

    def summary(self) -> str:
        """Lines on dropped duplicates and per-group accuracy ('' when there are neither)."""
        lines = []
        if self.unreadable:
            u = self.unreadable
            lines.append(f"left out {u['skipped']} unreadable images (--skip-bad), e.g. {u['first']}")
        if self.duplicates:
            d = self.duplicates
            lines.append(f"dropped {d['dropped']} of {d['before']} faces that are pixel copies of {d['of']}")
        if self.groups:
            width = max(map(len, self.groups))
            lines += [f"{'group':<{width}}  {'n':>5}  accuracy"]
            lines += [f"{g:<{width}}  {v['n']:>5}  {v['accuracy']:.4f}" for g, v in self.groups.items()]
        return "\n".join(lines)


def duplicate_mask(evaluated: Any, reference: Any, *, progress: bool = False) -> np.ndarray:
    """(N,) bool: which images of ``evaluated`` (a :class:`~genfer.data.base.FaceImages`) have an exact pixel copy
    in ``reference``."""
    seen = set(pixel_hashes(reference, progress=progress).tolist())
    return np.array([h in seen for h in pixel_hashes(evaluated, progress=progress).tolist()], bool)


def duplicates_in_split(evaluated: Any, dataset: str, root: str | Path, split: str, *, progress: bool = False,
                        **options: Any) -> np.ndarray:
    """(N,) bool: which images of ``evaluated`` have an exact pixel copy in ``split`` of ``dataset`` at ``root``
    (every image of that split, labelled or not; ``options`` as :func:`~genfer.data.registry.open_dataset`)."""
    return duplicate_mask(evaluated, open_dataset(dataset, root, split, **options), progress=progress)


def group_accuracy(groups: list[str], labels: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, float | int]]:
    """Accuracy per group, in sorted group order: ``{group: {"n", "accuracy"}}``."""
    out: dict[str, dict[str, float | int]] = {}
    names = np.asarray(groups)
    for g in sorted(set(groups)):
        hit = names == g
        out[g] = {"n": int(hit.sum()), "accuracy": round(float((labels[hit] == predicted[hit]).mean()), 4)}
    return out


def evaluate_dataset(
    recognizer: Any,
    dataset: str,
    root: str | Path,
    split: str | None = None,
    *,
    faces: str = "auto",
    limit: int = 0,
    progress: bool = False,
    exclude_duplicates_of: str | None = None,
    skip_bad: bool = False,
    **options: Any,
) -> EvalResult:
    """Evaluate ``recognizer`` (a :class:`genfer.Recognizer`) on ``dataset`` at ``root``.

    Args:
        split: defaults to the dataset's evaluation split (see ``default_split``).
        faces: ``crop``, ``detect`` or ``auto`` (by dataset, see module docstring).
        limit: evaluate only the first ``limit`` labelled images (0 = all).
        exclude_duplicates_of: drop the faces whose pixels exactly equal those of a face in this split of the
            same dataset (e.g. ``train``); how many were dropped is in the result's ``duplicates``.
        skip_bad: leave out the images that cannot be read (counted in the result's ``unreadable``); without it
            the first one raises :class:`~genfer.data.base.DatasetImageError` naming the file.
        options: reader options (e.g. ``label_source="fer2013"`` for ferplus).
    """
    split = split if split is not None else default_split(dataset)
    ds = open_dataset(dataset, root, split, **options)
    keep = np.flatnonzero(ds.labels >= 0)
    if limit:
        keep = keep[:limit]
    ds = ds.subset(keep)
    unreadable = None
    if skip_bad:
        ds, bad = drop_unreadable(ds, progress=progress)
        unreadable = {"skipped": len(bad), "first": bad[0]} if bad else None
    duplicates = None
    if exclude_duplicates_of:
        copies = duplicates_in_split(ds, dataset, root, exclude_duplicates_of, progress=progress, **options)
        duplicates = {"of": exclude_duplicates_of, "before": len(ds), "dropped": int(copies.sum())}
        ds = ds.subset(~copies)
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
    predicted = probs.argmax(1) if len(probs) else np.zeros(0, int)
    report = classification_report(ds.labels, predicted, ds.classes, recognizer.classes)
    groups = None
    if ds.groups is not None:  # labels and predictions compared by class name
        names = np.asarray(recognizer.classes)[predicted] if len(predicted) else np.zeros(0, str)
        groups = group_accuracy(ds.groups, np.asarray(ds.classes)[ds.labels], names)
    backend = getattr(recognizer, "backend", None)
    return EvalResult(report=report, dataset=dataset, split=split, model=recognizer.loaded.name, faces=mode,
                      no_face=no_face, backend=getattr(backend, "name", None), duplicates=duplicates, groups=groups,
                      unreadable=unreadable)


def save_eval(result: EvalResult, out_dir: str | Path) -> list[Path]:
    """Write ``metrics.json`` and ``confusion.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json_dumps(result.to_dict(), indent=2))
    title = f"{result.model} on {result.dataset}/{result.split}: acc {result.report.accuracy:.4f}"
    plot_confusion(result.report, str(out / "confusion.png"), title=title)
    return [out / "metrics.json", out / "confusion.png"]

