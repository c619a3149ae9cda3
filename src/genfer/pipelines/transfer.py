"""Expression transfer between two photos with a trained switch-unit GAN (what ``genfer transfer`` calls).

>>> from genfer.pipelines.transfer import ExpressionTransfer
>>> tr = ExpressionTransfer("runs/switchgan-cpu/final")
>>> result = tr.transfer("me.jpg", "smiling.jpg")
>>> result.images["source_with_reference_expression"]          # (H, W) or (H, W, 3) uint8 crop
>>> for result in tr.iter_transfer([("a.jpg", "b.jpg"), ("a.jpg", "c.jpg")]):   # batched, streaming
...     result.recognized

Both faces are detected, landmarked and aligned to the crop template the model was trained on
(``model.crop_template``: FER2013's framing for the FER-trained presets) at its input size; ``aligned=True``
takes each image as an aligned face and only resizes it. The switch unit needs the expression of each
face: by default C, the model's own classifier (the blocks of the switch are C's classes), or genfer's
recognizer (``labels="recognizer"``, its argmax over the model's classes). The generator then outputs
SOURCE with REFERENCE's expression (I_c of Eq. 4) and REFERENCE with SOURCE's (I_d), and genfer's
recognizer reads the expression of each output. :meth:`ExpressionTransfer.iter_transfer` runs the networks once
per batch of ``batch_size`` pairs and yields the pairs' results in order as each batch is done.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch

from genfer.io.images import to_tensor, to_uint8
from genfer.faces.io import ImageReadError, load_image
from genfer.hub import DEFAULT_RECOGNIZER
from genfer.labels import TRANSFER_LABEL_SOURCES, class_names
from genfer.predict import autocast, check_precision

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

    @staticmethod
    def output_paths(folder: str | Path, stem: str) -> dict[str, str]:
        """The files :meth:`save` writes: ``<folder>/<stem>_<key>.png`` for the two outputs and ``grid``."""
        return {key: str(Path(folder) / f"{stem}_{key}.png") for key in (*OUTPUT_KEYS, "grid")}

    def save(self, folder: str | Path, stem: str) -> dict[str, str]:
        """Write the two outputs and a grid (inputs on top, outputs below) as ``<stem>_<key>.png``; returns paths."""
        from PIL import Image

        Path(folder).mkdir(parents=True, exist_ok=True)
        paths = self.output_paths(folder, stem)
        for key, path in paths.items():
            Image.fromarray(self.grid() if key == "grid" else self.images[key]).save(path)
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
        batch_size: pairs per network batch in :meth:`iter_transfer`.
        precision: ``float32`` or ``bfloat16`` (autocast: about twice as fast on CPUs with AMX or AVX-512 BF16;
            the images may differ by a few grey levels).
    """

    def __init__(self, model: str | Path, *, device: str = "cpu", labels: str = "classifier",
                 recognizer: str | Path = DEFAULT_RECOGNIZER, detector: str = "auto", batch_size: int = 64,
                 precision: str = "float32") -> None:
        from genfer.api import Recognizer
        from genfer.hub import load_model

        if labels not in LABEL_SOURCES:
            raise ValueError(f"labels must be one of {', '.join(LABEL_SOURCES)}, not {labels!r}")
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, not {batch_size}")
        self.precision = check_precision(precision)
        self.batch_size = batch_size
        self.loaded = load_model(model, device=device, methods=("switchgan",))
        m = self.loaded.config.model
        self.size, self.channels, self.template = m.image_size, m.in_chans, m.crop_template
        self.classes = class_names(m.num_classes)
        self.labels_from = labels
        self.recognizer = Recognizer(recognizer, device=device)
        self.device = device
        self._detector = detector
        self._pipeline = None
        self._crops: OrderedDict[str, tuple[np.ndarray, str]] = OrderedDict()
        self._labels: OrderedDict[str, int] = OrderedDict()
        self.cache_size = 4096
        """Aligned crops and expressions kept per image (the oldest are dropped beyond it: bounded memory)."""

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
        if not crops:
            return []
        out: list[int] = []
        with torch.inference_mode(), autocast(self.device, self.precision):
            for start in range(0, len(crops), 2 * self.batch_size):
                chunk = crops[start : start + 2 * self.batch_size]
                if self.labels_from == "recognizer":
                    probs = self.recognizer.predict_crops(np.stack(chunk))[:, : len(self.classes)]
                    out += [int(k) for k in probs.argmax(1)]
                else:
                    out += self.loaded.model.classify(self._tensor(chunk)).argmax(1).tolist()
        return out

    def transfer(self, source: str | os.PathLike, reference: str | os.PathLike, *,
                 aligned: bool = False) -> TransferResult:
        """Exchange the expressions of ``source`` and ``reference``; failures are reported in the result."""
        return next(self.iter_transfer([(source, reference)], aligned=aligned))

    def iter_transfer(self, pairs: Iterable[tuple[str | os.PathLike, str | os.PathLike]], *,
                      aligned: bool = False) -> Iterator[TransferResult]:
        """One :class:`TransferResult` per (source, reference) pair, in order, streaming.

        Pairs are grouped into batches of :attr:`batch_size`; each batch runs C (or the recognizer) once on the
        faces whose expression is not known yet, the generator once and the recognizer once on the outputs,
        and its results are yielded as soon as it is done. A pair whose image is unreadable or has no face is
        reported in its result without stopping the others.
        """
        batch: list[tuple[TransferResult, list[str]]] = []
        for source, reference in pairs:
            batch.append(self._prepare(source, reference, aligned))
            if len(batch) >= self.batch_size:
                yield from self._run(batch)
                batch = []
                self._trim_caches()
        yield from self._run(batch)
        self._trim_caches()

    def _trim_caches(self) -> None:
        for cache in (self._crops, self._labels):
            while len(cache) > self.cache_size:
                cache.popitem(last=False)

    def _prepare(self, source: str | os.PathLike, reference: str | os.PathLike,
                 aligned: bool) -> tuple[TransferResult, list[str]]:
        """The pair's result with its aligned inputs (or its error), and the crop-cache keys of its two faces."""
        res = TransferResult(source=os.fspath(source), reference=os.fspath(reference), labels_from=self.labels_from)
        keys = []
        for role, path in (("source", source), ("reference", reference)):
            try:
                crop, how = self.face(path, aligned=aligned)
            except ImageReadError as exc:
                res.error, res.readable = str(exc), False
                return res, []
            except LookupError as exc:
                res.error = str(exc)
                return res, []
            res.images[role] = crop
            res.faces[role] = how
            keys.append(f"{os.fspath(path)}|{aligned}")
        return res, keys

    def _run(self, batch: list[tuple[TransferResult, list[str]]]) -> Iterator[TransferResult]:
        ok = [(res, keys) for res, keys in batch if res.error is None]
        if ok:
            new = list(dict.fromkeys(k for _, keys in ok for k in keys if k not in self._labels))
            self._labels.update(zip(new, self.expressions([self._crops[k][0] for k in new])))
            x_src = self._tensor([res.images["source"] for res, _ in ok])
            x_ref = self._tensor([res.images["reference"] for res, _ in ok])
            y_src = torch.tensor([self._labels[keys[0]] for _, keys in ok], device=x_src.device)
            y_ref = torch.tensor([self._labels[keys[1]] for _, keys in ok], device=x_src.device)
            with torch.inference_mode(), autocast(self.device, self.precision):
                image_c, image_d = self.loaded.model.generator.exchange(x_src, x_ref, y_src, y_ref)
                outputs = to_uint8(torch.cat([image_c, image_d]).float())
                probs = self.recognizer.predict_crops(outputs)
            n, names = len(ok), self.recognizer.classes
            for i, (res, _) in enumerate(ok):
                res.expressions = {"source": self.classes[int(y_src[i])], "reference": self.classes[int(y_ref[i])]}
                res.images = {"source": res.images["source"], "reference": res.images["reference"],
                              OUTPUT_KEYS[0]: outputs[i], OUTPUT_KEYS[1]: outputs[n + i]}
                for key, p in zip(OUTPUT_KEYS, (probs[i], probs[n + i])):
                    k = int(p.argmax())
                    res.recognized[key] = {"label": names[k], "probability": round(float(p[k]), 4)}
        for res, _ in batch:
            if res.error is not None:
                res.images = {}
            yield res


__all__ = ["ExpressionTransfer", "LABEL_SOURCES", "OUTPUT_KEYS", "TransferResult"]
