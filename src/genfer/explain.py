"""``genfer explain``'s pipeline: per face, a saliency overlay with the label and its probability.

Faces are found and aligned as :class:`~genfer.api.Recognizer` does; the label and probability come from the
recognizer's backend (the same as ``genfer recognize``); the map from the PyTorch model (:mod:`genfer.saliency`:
Grad-CAM++ for the ResNets, attention rollout for the ViTs and PF-ViT's encoder). Each input gives one record
``{"path", "faces": [{"label", "probability", "overlay", "method"}], "error"}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

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


def iter_explain(recognizer: Recognizer, inputs: ImageInput | Sequence[ImageInput], out_dir: str | Path, *,
                 aligned: bool = False) -> Iterator[dict[str, Any]]:
    """Explain every face of every input, writing overlays into ``out_dir``; yields one record per input."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    model = recognizer.loaded.model
    for index, item in enumerate(expand_inputs(inputs)):
        res, crops, metas = recognizer.find_faces(item, index, aligned=aligned)
        record: dict[str, Any] = {"path": res.path, "faces": [], "error": res.error}
        if crops:
            probs = recognizer.predict_crops(np.stack(crops))
            labels = probs.argmax(1)
            maps, method = saliency(model, crops_tensor(crops), labels.tolist())
            for k, (crop, p, label, heat) in enumerate(zip(crops, probs, labels, maps)):
                name = recognizer.classes[int(label)]
                target = out / _overlay_name(res.path, index, k, taken)
                saliency_overlay(crop, heat, f"{name} {p[label]:.2f} ({method})").save(target)
                record["faces"].append({"label": name, "probability": round(float(p[label]), 5),
                                        "overlay": str(target), "method": method, "box": metas[k]["box"]})
        yield record
