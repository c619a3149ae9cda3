"""``genfer explain``'s pipeline: per face, a saliency overlay with the label and its probability.

Faces are found and aligned as :class:`~genfer.api.Recognizer` does; the label and probability come from the
recognizer's backend (the same as ``genfer recognize``); the map from the PyTorch model (:mod:`genfer.saliency`:
Grad-CAM++ for the ResNets, attention rollout for the ViTs and PF-ViT's encoder). Each input gives one record
``{"path", "faces": [{"label", "probability", "overlay", "method"}], "error"}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from genfer.api import ImageInput, Recognizer, expand_inputs
from genfer.io.images import normalize
from genfer.render import saliency_overlay
from genfer.saliency import saliency


def crops_tensor(crops: Sequence[np.ndarray]) -> torch.Tensor:
    """Aligned uint8 crops as the model takes them ((s, s) gray or (s, s, 3) RGB) -> normalised (N, C, s, s)."""
    x = torch.as_tensor(np.stack(crops)).float() / 255.0
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return normalize(x)


def _overlay_name(path: str, index: int, face: int, taken: set[str]) -> str:
    stem = Path(path).stem if not path.startswith("<") else f"input{index}"
    name = f"{stem}-face{face + 1}.png"
    if name in taken:
        name = f"{stem}-{index}-face{face + 1}.png"
    taken.add(name)
    return name


@dataclass
class ExplainedFace:
    """One face's explanation: the predicted label, its probability, the saliency method and the overlay image."""

    label: str
    probability: float
    method: str
    overlay: Image.Image


def explain_crops(recognizer: Recognizer, crops: Sequence[np.ndarray], *, side: int = 192) -> list[ExplainedFace]:
    """Saliency overlays of aligned crops (as :meth:`~genfer.api.Recognizer.find_faces` gives them), one per crop.

    The label and probability come from the recognizer's backend, the map (for that label) from its PyTorch model;
    each overlay is ``side`` px square with a two-line caption below: ``label probability`` and the method.
    """
    if not len(crops):
        return []
    probs = recognizer.predict_crops(np.stack(crops))
    labels = probs.argmax(1)
    maps, method = saliency(recognizer.loaded.model, crops_tensor(crops), labels.tolist())
    faces = []
    for crop, p, label, heat in zip(crops, probs, labels, maps):
        name, prob = recognizer.classes[int(label)], float(p[label])
        overlay = saliency_overlay(crop, heat, f"{name} {prob:.2f}\n{method}", side=side)
        faces.append(ExplainedFace(name, prob, method, overlay))
    return faces


def iter_explained(recognizer: Recognizer, inputs: ImageInput | Sequence[ImageInput], *, aligned: bool = False
                   ) -> Iterator[tuple[dict[str, Any], list[Image.Image]]]:
    """Explain every face of every input (:func:`explain_crops`): per input, its record with each face's ``overlay``
    None (for the caller to fill with where the overlay went) and the faces' overlay images."""
    for index, item in enumerate(expand_inputs(inputs)):
        res, crops, metas = recognizer.find_faces(item, index, aligned=aligned)
        faces = explain_crops(recognizer, crops)
        records = [{"label": f.label, "probability": round(f.probability, 5), "overlay": None, "method": f.method,
                    "box": meta["box"]} for f, meta in zip(faces, metas)]
        record = {"path": res.path, "faces": records, "error": res.error}
        yield record, [f.overlay for f in faces]


def iter_explain(recognizer: Recognizer, inputs: ImageInput | Sequence[ImageInput], out_dir: str | Path, *,
                 aligned: bool = False) -> Iterator[dict[str, Any]]:
    """Explain every face of every input, writing overlays into ``out_dir``; yields one record per input."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    for index, (record, overlays) in enumerate(iter_explained(recognizer, inputs, aligned=aligned)):
        for k, (face, overlay) in enumerate(zip(record["faces"], overlays)):
            target = out / _overlay_name(record["path"], index, k, taken)
            overlay.save(target)
            face["overlay"] = str(target)
        yield record
