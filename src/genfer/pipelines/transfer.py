"""Expression transfer between two photos with a trained switch-unit GAN (what ``genfer transfer`` calls).

>>> from genfer.pipelines.transfer import ExpressionTransfer
>>> tr = ExpressionTransfer("runs/switchgan-cpu/final")
>>> result = tr.transfer("me.jpg", "smiling.jpg")
>>> result.images["source_with_reference_expression"]          # (H, W) or (H, W, 3) uint8 crop

Both faces are detected, landmarked and aligned to the crop template the model was trained on
(``model.crop_template``: FER2013's framing for the FER-trained presets) at its input size; ``aligned=True``
takes each image as an aligned face and only resizes it. The switch unit needs the expression of each
face: by default C, the model's own classifier (the blocks of the switch are C's classes), or genfer's
recognizer (``labels="recognizer"``, its argmax over the model's classes). The generator then outputs
SOURCE with REFERENCE's expression (I_c of Eq. 4) and REFERENCE with SOURCE's (I_d), and genfer's
recognizer reads the expression of each output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genfer.io.images import to_tensor, to_uint8
from genfer.faces.io import ImageReadError, load_image
from genfer.hub import DEFAULT_RECOGNIZER
from genfer.labels import TRANSFER_LABEL_SOURCES, class_names

OUTPUT_KEYS = ("source_with_reference_expression", "reference_with_source_expression")
"""Names of the two transferred faces (JSON keys and file-name suffixes)."""

LABEL_SOURCES = TRANSFER_LABEL_SOURCES
"""Where the expressions given to the switch unit come from."""


@dataclass
class TransferResult:
    """One SOURCE/REFERENCE pair.

    images: the aligned inputs ``source`` and ``reference`` and the outputs under :data:`OUTPUT_KEYS`, uint8
        (H, W) gray or (H, W, 3) RGB crops (empty when ``error`` is set).
    expressions: the expression given to the switch for ``source`` and ``reference``; ``labels_from`` says
        whether C or the recognizer read them.
    recognized: for each output, the recognizer's ``label`` and its ``probability``.
    faces: how each face was found (``mediapipe-*``, ``haar``, ``whole-image`` when nothing was detected and
        the roughly square image was taken as the face, ``aligned``).
    error: why the pair failed; ``readable`` is False when an image could not be read at all.
    """

    source: str
    reference: str
    images: dict[str, np.ndarray] = field(default_factory=dict)
    expressions: dict[str, str] = field(default_factory=dict)
    labels_from: str = "classifier"
    recognized: dict[str, dict[str, Any]] = field(default_factory=dict)
    faces: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    readable: bool = True

    def save(self, folder: str | Path, stem: str) -> dict[str, str]:
        """Write the two outputs and a grid (inputs on top, outputs below) as ``<stem>_<key>.png``; returns paths."""
        from PIL import Image

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for key in (*OUTPUT_KEYS, "grid"):
            img = self.grid() if key == "grid" else self.images[key]
            paths[key] = str(folder / f"{stem}_{key}.png")
            Image.fromarray(img).save(paths[key])
        return paths

    def grid(self, *, scale: int = 2) -> np.ndarray:
        """2 x 2 grid: source, reference / source with reference's expression, reference with source's."""
        top = np.concatenate([self.images["source"], self.images["reference"]], axis=1)
        bottom = np.concatenate([self.images[k] for k in OUTPUT_KEYS], axis=1)
        grid = np.concatenate([top, bottom], axis=0)
        return grid.repeat(scale, axis=0).repeat(scale, axis=1)

    def to_dict(self, paths: dict[str, str] | None = None) -> dict[str, Any]:
        """The JSON record: ``source``, ``reference``, ``outputs`` (paths), ``grid``, ``expressions``,
        ``labels_from``, ``recognized``, ``faces``, ``error``."""
        paths = paths or {}
        return {"source": self.source, "reference": self.reference,
                "outputs": {k: paths.get(k) for k in OUTPUT_KEYS}, "grid": paths.get("grid"),
                "expressions": self.expressions, "labels_from": self.labels_from, "recognized": self.recognized,
                "faces": self.faces, "error": self.error}


class ExpressionTransfer:
    """Detect, align and exchange the expressions of two faces with a trained switch-unit GAN.

    Args:
        model: a trained model (shipped name, a run's ``final/`` or a checkpoint folder).
        device: ``cpu`` or ``cuda``.
        labels: ``classifier`` (C) or ``recognizer``: what reads the input expressions for the switch.
        recognizer: genfer recognizer that reads the expressions of the outputs (and of the inputs with
            ``labels="recognizer"``).
        detector: face detector backend (``auto``, ``mediapipe``, ``haar``).
    """

    def __init__(self, model: str | Path, *, device: str = "cpu", labels: str = "classifier",
                 recognizer: str | Path = DEFAULT_RECOGNIZER, detector: str = "auto") -> None:
        from genfer.api import Recognizer
        from genfer.hub import load_model

        if labels not in LABEL_SOURCES:
            raise ValueError(f"labels must be one of {', '.join(LABEL_SOURCES)}, not {labels!r}")
        self.loaded = load_model(model, device=device, methods=("switchgan",))
        m = self.loaded.config.model
        self.size, self.channels, self.template = m.image_size, m.in_chans, m.crop_template
        self.classes = class_names(m.num_classes)
        self.labels_from = labels
        self.recognizer = Recognizer(recognizer, device=device)
        self.device = device
        self._detector = detector
        self._pipeline = None
        self._crops: dict[str, tuple[np.ndarray, str]] = {}

    @property
    def pipeline(self):
        """The face pipeline at the model's template and size (created on first use: it loads mediapipe)."""
        if self._pipeline is None:
            from genfer.faces.detect import FaceDetector
            from genfer.faces.landmarks import FaceLandmarker
            from genfer.faces.pipeline import FacePipeline

            self._pipeline = FacePipeline(detector=FaceDetector(backend=self._detector), landmarker=FaceLandmarker(),
                                          template=self.template, size=self.size, grayscale=self.channels == 1)
        return self._pipeline

    def face(self, image: str | os.PathLike, *, aligned: bool = False) -> tuple[np.ndarray, str]:
        """The aligned crop of an image's largest face and how it was found; cached per path.

        Raises :class:`ImageReadError` for unreadable images and ``LookupError`` when no face is found.
        """
        key = f"{os.fspath(image)}|{aligned}"
        if key not in self._crops:
            rgb = load_image(image)
            if aligned:
                import cv2

                crop = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if self.channels == 1 else rgb
                self._crops[key] = (cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA), "aligned")
            else:
                found = self.pipeline.process(rgb)
                if not found:
                    raise LookupError(f"no face found in {os.fspath(image)}")
                self._crops[key] = (found[0].crop, found[0].face.source)
        return self._crops[key]

    def _tensor(self, crops: list[np.ndarray]) -> torch.Tensor:
        return to_tensor(np.stack(crops)).to(self.device)

    def expressions(self, crops: list[np.ndarray]) -> list[int]:
        """The expression index (of the model's classes) of each aligned crop, read by C or the recognizer."""
        if self.labels_from == "recognizer":
            probs = self.recognizer.predict_crops(np.stack(crops))[:, : len(self.classes)]
            return [int(k) for k in probs.argmax(1)]
        with torch.no_grad():
            return self.loaded.model.classify(self._tensor(crops)).argmax(1).tolist()

    def transfer(self, source: str | os.PathLike, reference: str | os.PathLike, *,
                 aligned: bool = False) -> TransferResult:
        """Exchange the expressions of ``source`` and ``reference``; failures are reported in the result."""
        res = TransferResult(source=os.fspath(source), reference=os.fspath(reference), labels_from=self.labels_from)
        crops = []
        for role, path in (("source", source), ("reference", reference)):
            try:
                crop, how = self.face(path, aligned=aligned)
            except ImageReadError as exc:
                res.error, res.readable = str(exc), False
                return res
            except LookupError as exc:
                res.error = str(exc)
                return res
            crops.append(crop)
            res.faces[role] = how
        labels = self.expressions(crops)
        res.expressions = {"source": self.classes[labels[0]], "reference": self.classes[labels[1]]}
        x = self._tensor(crops)
        y = torch.tensor(labels, device=x.device)
        with torch.no_grad():
            out = self.loaded.model.generator(x[:1], x[1:], y[:1], y[1:])
        outputs = torch.cat([out.image_c, out.image_d])
        arr = to_uint8(outputs)
        res.images = {"source": crops[0], "reference": crops[1], OUTPUT_KEYS[0]: arr[0], OUTPUT_KEYS[1]: arr[1]}
        probs = self.recognizer.predict_crops(arr)
        names = self.recognizer.classes
        for key, p in zip(OUTPUT_KEYS, probs):
            k = int(p.argmax())
            res.recognized[key] = {"label": names[k], "probability": round(float(p[k]), 4)}
        return res


__all__ = ["ExpressionTransfer", "LABEL_SOURCES", "OUTPUT_KEYS", "TransferResult"]
