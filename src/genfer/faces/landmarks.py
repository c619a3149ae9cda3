"""Five facial landmarks per face box, from MediaPipe FaceMesh with fallbacks.

Order of the (5, 2) points (x, y pixels): left-eye centre, right-eye centre (as seen by the
viewer), nose tip, left mouth corner, right mouth corner. Sources, best first:

- ``"mesh"``: FaceMesh (478 points, ``refine_landmarks=True``) on an enlarged square crop around
  the box: iris centres 468 / 473, nose tip 1, mouth corners 61 / 291.
- ``"detector"``: derived from the MediaPipe detection keypoints (kept from the detector).
- ``"template"``: mean landmark positions relative to the box, measured per detector source.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from genfer.io.terminal import native_output_silenced

from .align import box_matrix, warp_crop
from .detect import Face, _import_mediapipe
from .io import load_image

__all__ = ["FaceLandmarker", "landmarks_for", "template_landmarks"]

log = logging.getLogger(__name__)

# FaceMesh indices: viewer-left eye = subject's right eye.
_IRIS = (468, 473)
_EYE_CORNERS = ((33, 133), (362, 263))
_NOSE_TIP = 1
_MOUTH_CORNERS = (61, 291)

# Mean FaceMesh 5-point positions inside the detector box, as fractions (x - bx) / bw and
# (y - by) / bh, per detector source. Measured on ../shared/data/faces (185 photos): median over
# photos of the FaceMesh points relative to the box each stage of FaceDetector returns on its own
# ("whole-image": the whole tight crop), then made left-right symmetric.
_BOX_TEMPLATES: dict[str, np.ndarray] = {
    "mediapipe-short": np.array([[0.296, 0.270], [0.704, 0.270], [0.5, 0.538], [0.329, 0.718], [0.671, 0.718]]),
    "mediapipe-full": np.array([[0.307, 0.317], [0.693, 0.317], [0.5, 0.571], [0.341, 0.751], [0.659, 0.751]]),
    "haar": np.array([[0.286, 0.386], [0.714, 0.386], [0.5, 0.665], [0.325, 0.860], [0.675, 0.860]]),
    "whole-image": np.array([[0.320, 0.392], [0.680, 0.392], [0.5, 0.626], [0.351, 0.784], [0.649, 0.784]]),
}


def template_landmarks(face: Face) -> np.ndarray:
    """(5, 2) float32 landmarks placed at the mean positions inside ``face.box`` for its source."""
    rel = _BOX_TEMPLATES.get(face.source, _BOX_TEMPLATES["mediapipe-short"])
    x, y, w, h = face.box
    return (np.array([x, y]) + rel * np.array([w, h])).astype(np.float32)


class FaceLandmarker:
    """Fill in 5-point landmarks for detected faces.

    Args (keyword-only):
        use_mesh: run FaceMesh (else only detector keypoints / templates are used).
        crop_scale: side of the square crop fed to FaceMesh, in units of the box's longer side.
        crop_size: the crop is resampled to this many pixels.
        min_score: FaceMesh's internal face detection confidence.

    The FaceMesh graph is created lazily on first use and reused. NOT thread-safe: use one
    landmarker per thread (:func:`landmarks_for` keeps one per thread for you).
    """

    def __init__(
        self,
        *,
        use_mesh: bool = True,
        crop_scale: float = 2.0,
        crop_size: int = 256,
        min_score: float = 0.3,
    ) -> None:
        if crop_scale < 1.0:
            raise ValueError(f"crop_scale must be >= 1, got {crop_scale}")
        if crop_size < 64:
            raise ValueError(f"crop_size must be >= 64, got {crop_size}")
        self.use_mesh = bool(use_mesh)
        self.crop_scale = float(crop_scale)
        self.crop_size = int(crop_size)
        self.min_score = float(min_score)
        self._mesh: Any = None

    def close(self) -> None:
        """Release the FaceMesh graph (re-created on next use)."""
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public

    def __call__(self, image_rgb: np.ndarray, faces: list[Face]) -> list[Face]:
        """Copies of ``faces`` with ``landmarks`` and ``landmarks_source`` filled in."""
        image = load_image(image_rgb)
        out = []
        for face in faces:
            points, source = self.landmarks(image, face)
            out.append(face.replace(landmarks=points, landmarks_source=source))
        return out

    def landmarks(self, image_rgb: np.ndarray, face: Face) -> tuple[np.ndarray, str]:
        """(5, 2) float32 landmarks for ``face`` in ``image_rgb`` (H, W, 3) uint8, and their source."""
        if self.use_mesh:
            points = self._mesh_landmarks(image_rgb, face)
            if points is not None:
                return points, "mesh"
        if face.landmarks is not None:
            return np.asarray(face.landmarks, dtype=np.float32), face.landmarks_source or "detector"
        return template_landmarks(face), "template"

    # -- FaceMesh

    def _mesh_model(self) -> Any:
        if self._mesh is None:
            mp = _import_mediapipe()
            with native_output_silenced():  # one-time C++ notices at graph start-up
                self._mesh = mp.solutions.face_mesh.FaceMesh(
                    static_image_mode=True,
                    max_num_faces=3,
                    refine_landmarks=True,
                    min_detection_confidence=self.min_score,
                )
                self._mesh.process(np.zeros((64, 64, 3), np.uint8))
        return self._mesh

    def _mesh_landmarks(self, image: np.ndarray, face: Face) -> np.ndarray | None:
        """FaceMesh on a square crop centred on the box; None if no plausible face is found."""
        try:
            model = self._mesh_model()
        except ImportError as err:
            log.warning("%s; landmarks fall back to detector keypoints / templates", err)
            self.use_mesh = False
            return None
        side = self.crop_scale * max(face.box[2], face.box[3])
        if side < 4:
            return None
        size = self.crop_size
        s = size / side
        m = box_matrix(face.box, size, margin=(self.crop_scale - 1.0) / 2.0)
        crop = warp_crop(image, m, size, border="constant")
        with native_output_silenced():  # FaceMesh logs a projection notice on its first face
            result = model.process(crop)
        best, best_dist = None, np.inf
        for mesh in result.multi_face_landmarks or []:
            pts = _five_points(mesh.landmark) * size
            dist = float(np.linalg.norm(pts.mean(axis=0) - size / 2.0))
            if dist < best_dist:
                best, best_dist = pts, dist
        if best is None:
            return None
        points = (best - m[:, 2]) / s
        if not _plausible(points, face.box):
            log.debug("discarding FaceMesh landmarks outside box %s", face.box)
            return None
        return points.astype(np.float32)


def _five_points(lms: Any) -> np.ndarray:
    """(5, 2) normalised crop coordinates from a FaceMesh landmark list."""

    def xy(i: int) -> np.ndarray:
        return np.array([lms[i].x, lms[i].y])

    if len(lms) > max(_IRIS):
        eyes = [xy(i) for i in _IRIS]
    else:
        eyes = [(xy(a) + xy(b)) / 2.0 for a, b in _EYE_CORNERS]
    return np.stack([eyes[0], eyes[1], xy(_NOSE_TIP), xy(_MOUTH_CORNERS[0]), xy(_MOUTH_CORNERS[1])])


def _plausible(points: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    """Landmark centroid inside the box enlarged by 25% per side, eye distance not degenerate."""
    x, y, w, h = box
    cx, cy = points.mean(axis=0)
    inside = (x - 0.25 * w <= cx <= x + 1.25 * w) and (y - 0.25 * h <= cy <= y + 1.25 * h)
    eye_dist = float(np.linalg.norm(points[1] - points[0]))
    return inside and eye_dist > 0.05 * max(w, h)


_local = threading.local()


def landmarks_for(image_rgb: np.ndarray, faces: list[Face], *, landmarker: FaceLandmarker | None = None) -> list[Face]:
    """Copies of ``faces`` with 5-point landmarks filled in (see :class:`FaceLandmarker`).

    Without ``landmarker`` a default one, created once per thread, is used.
    """
    if landmarker is None:
        landmarker = getattr(_local, "landmarker", None)
        if landmarker is None:
            landmarker = _local.landmarker = FaceLandmarker()
    return landmarker(image_rgb, faces)
