"""Face detection: MediaPipe (short + full range), OpenCV Haar fallback, padding for tight crops.

Strategy of :meth:`FaceDetector.detect` (stops at the first stage that finds a face):

1. MediaPipe short-range and full-range models on the image and, for large images (longer side
   above ``tile_size``), on a grid of overlapping tiles (up to 3x3; small faces in group photos,
   and the full-range graph returns at most ~6 faces per call), merged by non-maximum suppression.
2. The same on the image padded with a mid-gray border (tight crops, where the face fills the
   frame, defeat detectors; padding makes them look like ordinary photos).
3. OpenCV Haar cascades (frontalface_alt2 and frontalface_default) on the image, then padded.
4. If the image is roughly square (aspect 0.75..1.33), one face covering the whole image with
   ``source="whole-image"``: callers should report that no face was actually detected.

:class:`~genfer.faces.pipeline.FacePipeline` does not take these candidates as they are: its face gate
(:mod:`genfer.faces.gate`) keeps, stage by stage, only those an independent face check confirms.

The backend ``"haar"`` skips the MediaPipe stages; ``"auto"`` uses MediaPipe when it imports.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any, Iterator, Literal

import cv2
import numpy as np

from genfer.io.terminal import native_output_silenced

from .io import load_image

__all__ = ["Face", "FaceDetector", "nms"]

log = logging.getLogger(__name__)

Backend = Literal["auto", "mediapipe", "haar"]
_HAAR_FILES = ("haarcascade_frontalface_alt2.xml", "haarcascade_frontalface_default.xml")
_PAD_RGB = (127, 127, 127)  # mid-gray border for the padded retry (found more faces than black)


@dataclass(frozen=True, eq=False)
class Face:
    """One face in image pixel coordinates.

    box: (x, y, w, h) of the face rectangle, clipped to the image.
    score: detector confidence in [0, 1] (0 for ``whole-image``; heuristic for ``haar``).
    landmarks: (5, 2) float32 (x, y) or None: left-eye centre, right-eye centre (left/right as
        seen by the viewer: the smaller x first for an upright face), nose tip, left mouth
        corner, right mouth corner.
    source: which stage found the face: "mediapipe-short", "mediapipe-full", "haar" or
        "whole-image" (nothing detected; the whole image is assumed to be a face).
    landmarks_source: how the landmarks were obtained: "mesh" (MediaPipe FaceMesh),
        "detector" (derived from MediaPipe detection keypoints), "template" (mean positions
        inside the box) or None when there are no landmarks.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None
    source: str = "mediapipe-short"
    landmarks_source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "box", tuple(float(v) for v in self.box))
        object.__setattr__(self, "score", float(self.score))
        if self.landmarks is not None:
            lm = np.array(self.landmarks, dtype=np.float32)  # own, read-only copy
            if lm.shape != (5, 2):
                raise ValueError(f"landmarks must have shape (5, 2), got {lm.shape}")
            lm.flags.writeable = False
            object.__setattr__(self, "landmarks", lm)

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return (x + w / 2.0, y + h / 2.0)

    @property
    def detected(self) -> bool:
        """False for the ``whole-image`` stand-in."""
        return self.source != "whole-image"

    def replace(self, **changes: Any) -> Face:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (box rounded to 0.1 px, landmarks as nested lists)."""
        return {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(float(self.score), 4),
            "source": self.source,
            "landmarks": None if self.landmarks is None else np.round(self.landmarks, 1).tolist(),
            "landmarks_source": self.landmarks_source,
        }


# --------------------------------------------------------------------------- geometry helpers


def _iou_and_containment(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float]:
    """IoU and intersection / smaller area of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area_a, area_b = a[2] * a[3], b[2] * b[3]
    union = area_a + area_b - inter
    small = min(area_a, area_b)
    return (inter / union if union > 0 else 0.0, inter / small if small > 0 else 0.0)


def nms(faces: list[Face], *, iou: float = 0.3, containment: float = 0.7) -> list[Face]:
    """Greedy non-maximum suppression by score.

    A face is dropped when it overlaps a higher-scoring kept face with IoU > ``iou`` or when
    more than ``containment`` of the smaller box lies inside the other (nested duplicates).
    """
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: -f.score):
        if all((o := _iou_and_containment(f.box, k.box))[0] <= iou and o[1] <= containment for k in kept):
            kept.append(f)
    return kept


def _clip_face(face: Face, width: int, height: int) -> Face | None:
    """Clip the box to the image; None if its centre lies outside the image."""
    x, y, w, h = face.box
    cx, cy = x + w / 2, y + h / 2
    if not (0 <= cx < width and 0 <= cy < height):
        return None
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    return face.replace(box=(x0, y0, x1 - x0, y1 - y0))


# Mean MediaPipe FaceMesh landmarks (iris centres 468/473, nose tip 1, mouth corners 61/291) in
# the affine frame of the detection keypoints: p = eye_mid + a * (eye_r - eye_l) + b * (mouth - eye_mid),
# one row (a, b) per point. Measured on ../shared/data/faces (median over 182 photos where both
# ran), then made left-right symmetric. (The detector's "nose tip" sits higher than FaceMesh's.)
_KEYPOINT_FRAME_5 = np.array(
    [[-0.468, -0.012], [0.468, -0.012], [0.0, 0.580], [-0.374, 0.990], [0.374, 0.990]], dtype=np.float64
)


def landmarks_from_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """5 landmarks (5, 2) float32 from MediaPipe detection keypoints (>= 4, 2) in pixels.

    Keypoint order: viewer-left eye, viewer-right eye, nose tip, mouth centre (ears unused).
    Nose tip and mouth corners are placed by a measured mean affine relation (see above),
    so they follow the FaceMesh conventions used by :mod:`genfer.faces.landmarks`.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    eye_l, eye_r, mouth = kp[0], kp[1], kp[3]
    mid = (eye_l + eye_r) / 2.0
    basis = np.stack([eye_r - eye_l, mouth - mid])  # (2, 2): rows are the frame axes
    return (mid + _KEYPOINT_FRAME_5 @ basis).astype(np.float32)


# --------------------------------------------------------------------------- detector


class FaceDetector:
    """Find faces in RGB images; see the module docstring for the stages.

    Args (keyword-only):
        backend: "auto" (MediaPipe if importable, else Haar), "mediapipe" or "haar".
        min_score: minimum MediaPipe detection confidence.
        max_faces: keep at most this many faces (the largest).
        pad: border per side, as a fraction of the longer image side, for the retry on crops.
        whole_image_fallback: return a ``whole-image`` face for roughly square images with no
            detection.
        nms_iou: IoU above which two detections are merged.
        tile_size: images with a longer side above this are also searched in overlapping tiles
            of about this size (at most 3 per axis); 0 disables tiling.

    MediaPipe graphs and Haar cascades are created lazily on first use and reused. A detector
    is NOT thread-safe: use one per thread. Call :meth:`close` (or use ``with``) to free them.
    """

    def __init__(
        self,
        *,
        backend: Backend = "auto",
        min_score: float = 0.5,
        max_faces: int = 20,
        pad: float = 0.5,
        whole_image_fallback: bool = True,
        nms_iou: float = 0.3,
        tile_size: int = 960,
    ) -> None:
        if backend not in ("auto", "mediapipe", "haar"):
            raise ValueError(f"backend must be 'auto', 'mediapipe' or 'haar', got {backend!r}")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1], got {min_score}")
        if max_faces < 1:
            raise ValueError(f"max_faces must be >= 1, got {max_faces}")
        if pad < 0:
            raise ValueError(f"pad must be >= 0, got {pad}")
        self.backend = backend
        self.min_score = float(min_score)
        self.max_faces = int(max_faces)
        self.pad = float(pad)
        self.whole_image_fallback = bool(whole_image_fallback)
        self.nms_iou = float(nms_iou)
        if tile_size and tile_size < 128:
            raise ValueError(f"tile_size must be 0 (off) or >= 128, got {tile_size}")
        self.tile_size = int(tile_size)
        self._mp_models: list[tuple[str, Any]] | None = None
        self._haar: list[cv2.CascadeClassifier] | None = None
        self._use_mediapipe = backend != "haar"
        if backend == "mediapipe":
            _import_mediapipe()  # fail early with a clear message

    # -- lifecycle

    def close(self) -> None:
        """Release the MediaPipe graphs (they are re-created if the detector is used again)."""
        for _, model in self._mp_models or []:
            model.close()
        self._mp_models = None

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public

    def detect(self, image_rgb: np.ndarray) -> list[Face]:
        """Faces in ``image_rgb`` (H, W, 3) uint8 RGB, sorted by box area, largest first.

        Any input accepted by :func:`genfer.faces.io.load_image` also works.
        """
        image = load_image(image_rgb)
        h, w = image.shape[:2]
        faces: list[Face] = []
        for found in self.stages(image):
            faces = [f for f in found if f.score >= self.min_score]
            if faces:
                break
        if not faces and (whole := self.whole_image_face(image)) is not None:
            log.info("no face detected in %dx%d image; using the whole image as the face", w, h)
            faces = [whole]
        faces.sort(key=lambda f: -f.area)
        return faces[: self.max_faces]

    # -- stages

    def whole_image_face(self, image_rgb: np.ndarray) -> Face | None:
        """The ``whole-image`` stand-in for an undetected tight crop: a face covering the whole image when it is
        roughly square (aspect 0.75..1.33) and the fallback is on, else None."""
        h, w = image_rgb.shape[:2]
        if not self.whole_image_fallback or not 0.75 <= w / h <= 1.0 / 0.75:
            return None
        return Face(box=(0.0, 0.0, float(w), float(h)), score=0.0, source="whole-image")

    def stages(self, image_rgb: np.ndarray) -> Iterator[list[Face]]:
        """The faces each detection stage finds (clipped to the image, merged by NMS), stage by stage, lazily.

        :meth:`detect` takes the first stage with a face scoring at least ``min_score``; a calibration
        (``benchmarks/face_gate.py``) runs them all with a low ``min_score`` and applies thresholds afterwards.
        """
        image = load_image(image_rgb)
        h, w = image.shape[:2]
        stages = []
        if self._use_mediapipe and self._mediapipe_models():
            stages += [
                lambda im: self._run_mediapipe(im, 0) + self._run_tiles(im),
                lambda im: self._run_mediapipe(im, self._pad_px(im)),
            ]
        stages += [lambda im: self._run_haar(im, 0), lambda im: self._run_haar(im, self._pad_px(im))]
        for stage in stages:
            yield nms([c for f in stage(image) if (c := _clip_face(f, w, h)) is not None], iou=self.nms_iou)

    def _pad_px(self, image: np.ndarray) -> int:
        return round(self.pad * max(image.shape[:2]))

    def _mediapipe_models(self) -> list[tuple[str, Any]]:
        if self._mp_models is None:
            try:
                mp = _import_mediapipe()
            except ImportError as err:
                if self.backend == "mediapipe":
                    raise
                log.warning("%s; falling back to Haar cascades", err)
                self._use_mediapipe = False
                return []
            fd = mp.solutions.face_detection
            with native_output_silenced():  # MediaPipe/TFLite print one-time C++ notices at start-up
                self._mp_models = [
                    ("mediapipe-short", fd.FaceDetection(model_selection=0, min_detection_confidence=self.min_score)),
                    ("mediapipe-full", fd.FaceDetection(model_selection=1, min_detection_confidence=self.min_score)),
                ]
                for _, model in self._mp_models:
                    model.process(np.zeros((64, 64, 3), np.uint8))
        return self._mp_models

    def _run_mediapipe(self, image: np.ndarray, pad: int) -> list[Face]:
        """Both MediaPipe models on ``image`` padded by ``pad`` px; boxes in unpadded pixels."""
        work = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=_PAD_RGB) if pad else image
        H, W = work.shape[:2]
        faces: list[Face] = []
        for source, model in self._mediapipe_models():
            result = model.process(work)
            for det in result.detections or []:
                rel = det.location_data.relative_bounding_box
                box = (rel.xmin * W - pad, rel.ymin * H - pad, rel.width * W, rel.height * H)
                if box[2] <= 1 or box[3] <= 1:
                    continue
                kps = det.location_data.relative_keypoints
                landmarks = None
                if len(kps) >= 4:
                    kp = np.array([[k.x * W - pad, k.y * H - pad] for k in kps], dtype=np.float64)
                    landmarks = landmarks_from_keypoints(kp)
                faces.append(
                    Face(
                        box=box,
                        score=float(det.score[0]),
                        landmarks=landmarks,
                        source=source,
                        landmarks_source=None if landmarks is None else "detector",
                    )
                )
        return nms(faces, iou=self.nms_iou)

    def _run_tiles(self, image: np.ndarray) -> list[Face]:
        """MediaPipe on overlapping tiles of a large image; drops faces cut by inner tile edges."""
        if not self.tile_size:
            return []
        h, w = image.shape[:2]
        faces: list[Face] = []
        for x0, y0, x1, y1 in _tile_windows(w, h, self.tile_size):
            tile = np.ascontiguousarray(image[y0:y1, x0:x1])
            edge = 0.02 * max(x1 - x0, y1 - y0)
            for f in self._run_mediapipe(tile, 0):
                bx, by, bw, bh = f.box
                cut = (
                    (x0 > 0 and bx < edge)
                    or (y0 > 0 and by < edge)
                    or (x1 < w and bx + bw > x1 - x0 - edge)
                    or (y1 < h and by + bh > y1 - y0 - edge)
                )
                if cut:
                    continue
                shift = np.array([x0, y0], dtype=np.float32)
                faces.append(
                    f.replace(
                        box=(bx + x0, by + y0, bw, bh),
                        landmarks=None if f.landmarks is None else f.landmarks + shift,
                    )
                )
        return faces

    def _haar_models(self) -> list[cv2.CascadeClassifier]:
        if self._haar is None:
            models = []
            for name in _HAAR_FILES:
                path = cv2.data.haarcascades + name
                clf = cv2.CascadeClassifier(path)
                if clf.empty():
                    log.warning("cannot load Haar cascade %s", path)
                else:
                    models.append(clf)
            if not models:
                raise RuntimeError("no OpenCV Haar face cascade could be loaded (opencv-contrib-python<5 ships them)")
            self._haar = models
        return self._haar

    def _run_haar(self, image: np.ndarray, pad: int) -> list[Face]:
        """Haar cascades on the (downscaled, equalised, padded) gray image; heuristic scores."""
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        scale = min(1.0, 640.0 / max(gray.shape))
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        p = round(pad * scale)
        if p:
            gray = cv2.copyMakeBorder(gray, p, p, p, p, cv2.BORDER_CONSTANT, value=_PAD_RGB[0])
        min_side = max(20, int(0.08 * (min(gray.shape) - 2 * p)))
        min_neighbors = 5
        faces: list[Face] = []
        for clf in self._haar_models():
            rects, counts = clf.detectMultiScale2(
                gray, scaleFactor=1.1, minNeighbors=min_neighbors, minSize=(min_side, min_side)
            )
            for (x, y, w, h), n in zip(np.asarray(rects).reshape(-1, 4), np.asarray(counts).reshape(-1), strict=True):
                box = ((x - p) / scale, (y - p) / scale, w / scale, h / scale)
                faces.append(Face(box=box, score=float(n) / (float(n) + min_neighbors), source="haar"))
        return nms(faces, iou=self.nms_iou)


def _tile_windows(width: int, height: int, tile: int, overlap: float = 0.25) -> list[tuple[int, int, int, int]]:
    """Overlapping (x0, y0, x1, y1) windows, at most 3 per axis; [] if one window covers it all."""

    def spans(n_px: int) -> list[tuple[int, int]]:
        n = min(3, math.ceil(n_px / tile))
        if n < 2:
            return [(0, n_px)]
        size = min(n_px, math.ceil(n_px / n * (1.0 + overlap)))
        starts = np.linspace(0, n_px - size, n).round().astype(int)
        return [(int(a), int(a) + size) for a in starts]

    xs, ys = spans(width), spans(height)
    if len(xs) == 1 and len(ys) == 1:
        return []
    return [(x0, y0, x1, y1) for y0, y1 in ys for x0, x1 in xs]


def _import_mediapipe() -> Any:
    try:
        import mediapipe as mp  # heavy import: only when needed
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("mediapipe is not installed (pip install mediapipe==0.10.21)") from err
    return mp
