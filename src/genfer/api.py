"""The Python API most users call: :class:`Recognizer`.

>>> from genfer import Recognizer
>>> rec = Recognizer()                      # the shipped default model, CPU
>>> results = rec("photo.jpg")              # path, folder, array, PIL image, or a list of them
>>> results[0].faces[0].label, results[0].faces[0].probabilities
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from genfer.faces.io import ImageReadError, list_images, load_image
from genfer.hub import DEFAULT_RECOGNIZER, load_recognizer
from genfer.labels import class_names
from genfer.predict import predict_probs_with
from genfer.runtime.backends import BACKENDS, Backend, make_backend


@dataclass
class FaceResult:
    """One recognised face: box ``x, y, w, h``, 5 landmarks, label and all probabilities.

    ``source`` says how the face was found (``mediapipe-short``, ``mediapipe-full``, ``haar``,
    ``whole-image`` when no detector fired and the roughly square image was taken as one face, or
    ``aligned`` for inputs given as aligned crops).
    """

    box: list[float]
    landmarks: list[list[float]] | None
    label: str
    probabilities: dict[str, float]
    source: str = "detector"
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "landmarks": None if self.landmarks is None else [[round(float(x), 1), round(float(y), 1)]
                                                              for x, y in self.landmarks],
            "label": self.label,
            "probabilities": {k: round(float(v), 5) for k, v in self.probabilities.items()},
            "source": self.source,
            "score": None if self.score is None else round(float(self.score), 4),
        }


@dataclass
class ImageResult:
    """Faces found in one input image, or the error that stopped it (then ``faces`` is empty).

    ``readable`` is False when the image itself could not be read (corrupt, not an image).
    """

    path: str
    faces: list[FaceResult] = field(default_factory=list)
    error: str | None = None
    image_size: tuple[int, int] | None = None
    readable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "faces": [f.to_dict() for f in self.faces], "error": self.error}


ImageInput = str | os.PathLike | np.ndarray | Any  # PIL.Image.Image too


def expand_inputs(inputs: ImageInput | Sequence[ImageInput]) -> list[ImageInput]:
    """Flatten inputs: a folder becomes its images in sorted order; arrays/PIL images pass through.

    A path that does not exist stays an input: its result carries the error ("no such file", ``readable`` False)
    while the other inputs are processed.
    """
    if isinstance(inputs, (str, os.PathLike, np.ndarray)) or not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    out: list[ImageInput] = []
    for item in inputs:
        if isinstance(item, (str, os.PathLike)):
            out.extend(list_images([item]) if os.path.exists(item) else [item])
        else:
            out.append(item)
    return out


def _label_of(item: ImageInput, index: int) -> str:
    return str(item) if isinstance(item, (str, os.PathLike)) else f"<input {index}>"


class Recognizer:
    """Detect, align and recognise facial expressions.

    Args:
        model: shipped model name or a model/checkpoint folder.
        device: ``cpu`` or ``cuda``.
        detector: face detector backend (``auto``, ``mediapipe``, ``haar``).
        hflip_tta: average predictions with the mirrored crop (slower, slightly more accurate).
        batch_size: crops per forward pass.
        backend: the network runtime, one of :data:`genfer.runtime.backends.BACKENDS` (``auto``: ONNX Runtime
            when installed and measured faster for this model, else PyTorch); created on first use,
            :attr:`backend` says which one runs.
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_RECOGNIZER,
        *,
        device: str = "cpu",
        detector: str = "auto",
        hflip_tta: bool = False,
        batch_size: int = 64,
        backend: str = "auto",
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.loaded = load_recognizer(model, device=device)
        self.config = self.loaded.config
        self.classes = class_names(self.loaded.num_classes)
        self.image_size = self.loaded.image_size
        self.channels = self.loaded.in_chans
        self.hflip_tta = hflip_tta
        self.batch_size = batch_size
        self._detector_backend = detector
        self._pipeline = None
        self._backend_name = backend
        self._backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        """The network backend (created on first use: ``auto`` may export and time the ONNX graph once)."""
        if self._backend is None:
            self._backend = make_backend(self.loaded, self._backend_name)
        return self._backend

    @property
    def backend_in_use(self) -> Backend | None:
        """The backend if a face has been classified yet, else None (without creating it)."""
        return self._backend

    @property
    def pipeline(self):
        """The face pipeline (created on first use: it loads mediapipe)."""
        if self._pipeline is None:
            from genfer.faces.detect import FaceDetector
            from genfer.faces.landmarks import FaceLandmarker
            from genfer.faces.pipeline import FacePipeline

            self._pipeline = FacePipeline(
                detector=FaceDetector(backend=self._detector_backend),
                landmarker=FaceLandmarker(),
                template="fer2013",
                size=self.image_size,
                grayscale=self.channels == 1,
            )
        return self._pipeline

    # ------------------------------------------------------------------ crops
    def predict_crops(self, crops: np.ndarray | torch.Tensor) -> np.ndarray:
        """Probabilities of aligned crops.

        Args:
            crops: (N, H, W) grayscale or (N, H, W, 3) RGB uint8 aligned faces (any H = W).

        Returns:
            (N, K) float32 probabilities over :attr:`classes`.
        """
        x = torch.as_tensor(np.asarray(crops))
        if x.ndim == 3:
            x = x.unsqueeze(1)
        elif x.ndim == 4:
            x = x.permute(0, 3, 1, 2)
        else:
            raise ValueError(f"crops must be (N, H, W) or (N, H, W, 3), not {tuple(x.shape)}")
        if x.shape[1] != self.channels:
            if self.channels == 1:  # ITU-R 601 luma, as OpenCV's RGB2GRAY
                luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
                x = (x.float() * luma).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
            else:
                x = x.expand(-1, 3, -1, -1)
        probs = predict_probs_with(self.backend.logits, x, num_classes=len(self.classes), batch_size=self.batch_size,
                                   image_size=self.image_size, hflip_tta=self.hflip_tta)
        return probs.numpy()

    def _face_result(self, probs: np.ndarray, **kw: Any) -> FaceResult:
        k = int(probs.argmax())
        return FaceResult(label=self.classes[k], probabilities=dict(zip(self.classes, map(float, probs))), **kw)

    def _aligned_crop(self, image: np.ndarray) -> np.ndarray:
        import cv2

        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if self.channels == 1 else image
        return cv2.resize(gray, (self.image_size, self.image_size), interpolation=cv2.INTER_AREA)

    # ------------------------------------------------------------------ images
    def iter_predict(self, inputs: ImageInput | Sequence[ImageInput], *, aligned: bool = False,
                     batch_images: int | None = None) -> Iterator[ImageResult]:
        """Recognise faces image by image, streaming (bounded memory over large folders).

        Crops of up to ``batch_images`` images are classified in one batch (default: :meth:`images_per_batch`);
        results come in input order.
        """
        items = expand_inputs(inputs)
        batch_images = batch_images or self.images_per_batch(aligned)
        for start in range(0, len(items), batch_images):
            yield from self._predict_chunk(items[start : start + batch_images], start, aligned)

    def _predict_chunk(self, items: list[ImageInput], offset: int, aligned: bool) -> list[ImageResult]:
        return [res for res, _ in self._faces_chunk(items, offset, aligned)]

    def iter_faces(self, inputs: ImageInput | Sequence[ImageInput], *, aligned: bool = False,
                   batch_images: int | None = None) -> Iterator[tuple[ImageResult, list[np.ndarray]]]:
        """Like :meth:`iter_predict`, also yielding each image's aligned crops (one per face, as the model takes
        them: (size, size) uint8 grayscale or (size, size, 3) RGB), for models that process the crops further."""
        items = expand_inputs(inputs)
        batch_images = batch_images or self.images_per_batch(aligned)
        for start in range(0, len(items), batch_images):
            yield from self._faces_chunk(items[start : start + batch_images], start, aligned)

    def images_per_batch(self, aligned: bool) -> int:
        """Images whose crops go through the network together: a full network batch of aligned crops (one face
        each), 32 photos otherwise (bounded latency before the first result)."""
        return self.batch_size if aligned else 32

    def find_faces(self, item: ImageInput, index: int = 0, *,
                   aligned: bool = False) -> tuple[ImageResult, list[np.ndarray], list[dict[str, Any]]]:
        """Read one input and align its faces, without recognising them.

        Returns its :class:`ImageResult` (no faces yet; ``error``/``readable`` set for unreadable images and
        photos without a face; ``index`` names array inputs), the aligned crops as the model takes them and,
        per crop, the keyword arguments of its :class:`FaceResult` other than the label (box, landmarks,
        source, score). :meth:`face_result` completes a face from its probabilities.
        """
        res = ImageResult(path=_label_of(item, index))
        try:
            image = load_image(item)
        except ImageReadError as exc:
            res.error, res.readable = str(exc), False
            return res, [], []
        res.image_size = (image.shape[1], image.shape[0])
        if aligned:
            h, w = image.shape[:2]
            return res, [self._aligned_crop(image)], [{"box": [0.0, 0.0, float(w), float(h)], "landmarks": None,
                                                       "source": "aligned"}]
        found = self.pipeline.process(image)
        if not found:
            res.error = "no face found"
        crops, metas = [], []
        for af in found:
            crops.append(af.crop)
            lm = None if af.face.landmarks is None else np.asarray(af.face.landmarks).tolist()
            metas.append({"box": list(map(float, af.face.box)), "landmarks": lm, "source": af.face.source,
                          "score": float(af.face.score)})
        return res, crops, metas

    def face_result(self, probs: np.ndarray, meta: dict[str, Any]) -> FaceResult:
        """A :class:`FaceResult` from a face's probabilities over :attr:`classes` and its :meth:`find_faces` meta."""
        return self._face_result(probs, **meta)

    def _faces_chunk(self, items: list[ImageInput], offset: int,
                     aligned: bool) -> list[tuple[ImageResult, list[np.ndarray]]]:
        results, crops, owners, metas = [], [], [], []
        for i, item in enumerate(items):
            res, found, found_metas = self.find_faces(item, offset + i, aligned=aligned)
            results.append((res, []))
            crops += found
            metas += found_metas
            owners += [i] * len(found)
        if crops:
            probs = self.predict_crops(np.stack(crops))
            for owner, p, meta, crop in zip(owners, probs, metas, crops):
                results[owner][0].faces.append(self._face_result(p, **meta))
                results[owner][1].append(crop)
        return results

    def predict(self, inputs: ImageInput | Sequence[ImageInput], *, aligned: bool = False) -> list[ImageResult]:
        """Recognise every face in the inputs (see :meth:`iter_predict`)."""
        return list(self.iter_predict(inputs, aligned=aligned))

    __call__ = predict

    @staticmethod
    def to_records(results: Sequence[Any]) -> list[dict[str, Any]]:
        """One dict per face of photo (or video-frame) results: ``path, face, x, y, w, h, label, source, score`` and
        one probability per emotion (:mod:`genfer.tables`; video rows have ``frame, time, track``)."""
        from genfer.tables import records

        return records(results)

    @staticmethod
    def to_frame(results: Sequence[Any]) -> Any:
        """:meth:`to_records` as a pandas DataFrame (needs pandas)."""
        from genfer.tables import to_frame

        return to_frame(results)


def recognize(inputs: ImageInput | Sequence[ImageInput], **kwargs: Any) -> list[ImageResult]:
    """One-shot convenience: ``Recognizer(**kwargs).predict(inputs)``."""
    return Recognizer(**kwargs).predict(inputs)
