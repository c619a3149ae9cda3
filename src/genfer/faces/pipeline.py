"""Detect -> landmarks -> align: one call from an RGB image to aligned face crops."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np

from .align import CropTemplate, alignment_matrix, box_matrix, get_template, warp_crop
from .detect import Face, FaceDetector
from .gate import FaceGate
from .io import ImageSource, load_image
from .landmarks import FaceLandmarker

__all__ = ["AlignedFace", "FacePipeline"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class AlignedFace:
    """A detected face and its aligned crop.

    face: the detection, with landmarks filled in.
    crop: (size, size, 3) uint8 RGB, or (size, size) uint8 when the pipeline is grayscale.
    matrix: (2, 3) similarity mapping image coordinates to crop coordinates (invert it to paste
        an edited crop back into the photo).
    """

    face: Face
    crop: np.ndarray
    matrix: np.ndarray


class FacePipeline:
    """Find, landmark and align every face of an image.

    Args (keyword-only):
        detector: a :class:`FaceDetector` (default: ``FaceDetector()``).
        landmarker: a :class:`FaceLandmarker` (default: ``FaceLandmarker()``).
        template: crop template name or :class:`CropTemplate` ("fer2013" or "gen").
        size: crop side in pixels.
        grayscale: return (size, size) gray crops instead of RGB.
        gate: the :class:`FaceGate` candidates must pass (default ``FaceGate()``); None takes the detector's
            faces as they are (its whole-image stand-in included).

    The MediaPipe graphs inside the detector and landmarker are created on first use and then
    reused for every image. They are NOT thread-safe: give each thread its own pipeline.
    """

    def __init__(
        self,
        *,
        detector: FaceDetector | None = None,
        landmarker: FaceLandmarker | None = None,
        template: str | CropTemplate = "fer2013",
        size: int = 48,
        grayscale: bool = False,
        gate: FaceGate | None = FaceGate(),
    ) -> None:
        if size < 8:
            raise ValueError(f"size must be >= 8, got {size}")
        self.detector = detector if detector is not None else FaceDetector()
        self.landmarker = landmarker if landmarker is not None else FaceLandmarker()
        self.template = get_template(template)
        self.size = int(size)
        self.grayscale = bool(grayscale)
        self.gate = gate

    def close(self) -> None:
        """Release the MediaPipe graphs."""
        self.detector.close()
        self.landmarker.close()

    def __enter__(self) -> FacePipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def faces(self, image: ImageSource) -> list[Face]:
        """Detected faces (largest first) with landmarks; ``image`` as for :func:`load_image`.

        With a gate: the faces the gate keeps from the first detection stage where it keeps any, else the
        whole-image stand-in if the gate keeps it, else none.
        """
        rgb = load_image(image)
        if self.gate is None:
            return self.landmarker(rgb, self.detector.detect(rgb))
        candidates = ([f for f in found if f.score >= self.detector.min_score] for found in self.detector.stages(rgb))
        whole = self.detector.whole_image_face(rgb)
        for found in itertools.chain(candidates, [[whole] if whole is not None else []]):
            kept = self.gate(self.landmarker(rgb, found)) if found else []
            if kept:
                return sorted(kept, key=lambda f: -f.area)[: self.detector.max_faces]
        return []

    def align(self, image: ImageSource, faces: list[Face]) -> list[AlignedFace]:
        """Aligned crops of given faces (a box-only crop where a face has no landmarks)."""
        rgb = load_image(image)
        out = []
        for face in faces:
            if face.landmarks is not None:
                m = alignment_matrix(face.landmarks, template=self.template, size=self.size)
            else:
                m = box_matrix(face.box, self.size, margin=0.2)
            out.append(AlignedFace(face=face, crop=warp_crop(rgb, m, self.size, grayscale=self.grayscale), matrix=m))
        return out

    def process(self, image_rgb: ImageSource) -> list[AlignedFace]:
        """Every face of ``image_rgb`` ((H, W, 3) uint8 RGB, or anything :func:`load_image`
        reads), aligned to the template; largest face first."""
        rgb = load_image(image_rgb)
        return self.align(rgb, self.faces(rgb))

    def __call__(self, image_rgb: ImageSource) -> list[AlignedFace]:
        return self.process(image_rgb)
