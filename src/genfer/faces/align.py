"""Align faces to named square crop templates with a 5-point similarity transform.

Coordinates are continuous pixel coordinates everywhere in :mod:`genfer.faces` (as MediaPipe
reports them): (0, 0) is the top-left corner of the image and pixel (i, j) covers
[i, i + 1) x [j, j + 1). A template point (u, v) in [0, 1] sits at (u * size, v * size) in a
``size``-pixel crop. Matrices map continuous image coordinates to continuous crop coordinates;
:func:`to_opencv_matrix` converts one for ``cv2.warpAffine`` (pixel centres at integers).
Landmark order: left eye, right eye (viewer's view), nose tip, left mouth corner, right mouth
corner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

__all__ = [
    "TEMPLATES",
    "CropTemplate",
    "align_face",
    "alignment_matrix",
    "box_matrix",
    "crop_box",
    "estimate_similarity",
    "get_template",
    "to_opencv_matrix",
    "warp_crop",
]


@dataclass(frozen=True)
class CropTemplate:
    """Where the 5 landmarks go in a square crop.

    points: 5 (u, v) pairs in [0, 1] crop coordinates (see module docstring).
    """

    name: str
    points: tuple[tuple[float, float], ...]
    description: str = ""

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.shape != (5, 2):
            raise ValueError(f"template {self.name!r}: points must be 5 (u, v) pairs, got shape {pts.shape}")
        if not np.all((pts >= 0) & (pts <= 1)):
            raise ValueError(f"template {self.name!r}: points must lie in [0, 1]")

    def points_px(self, size: int) -> np.ndarray:
        """(5, 2) float64 positions in a ``size`` x ``size`` crop (continuous pixel coordinates)."""
        return np.asarray(self.points, dtype=np.float64) * size


TEMPLATES: dict[str, CropTemplate] = {
    # Measured by benchmarks/measure_fer2013_template.py: 300 FERPlus FER2013Train images
    # (48x48, every 95th file) upsampled to 192 px, this package's detector + FaceMesh landmarks
    # (mesh results only, 296 of 300), divided by 192, mean over images, then made left-right
    # symmetric (averaged with its mirror image). Raw mean: eyes (0.315, 0.375) (0.676, 0.372),
    # nose (0.489, 0.616), mouth (0.353, 0.772) (0.645, 0.769); per-point std about 0.08.
    "fer2013": CropTemplate(
        name="fer2013",
        points=((0.3194, 0.3735), (0.6806, 0.3735), (0.5, 0.6159), (0.3540, 0.7702), (0.6460, 0.7702)),
        description="framing of FER2013 / FERPlus 48x48 faces (measured)",
    ),
    # ArcFace's 5-point proportions (symmetrised), scaled and placed so that the eye midpoint is at
    # (0.5, 0.40) and the mouth midpoint at (0.5, 0.72): a tight, centred, FFHQ-like framing.
    "gen": CropTemplate(
        name="gen",
        points=((0.3614, 0.40), (0.6386, 0.40), (0.5, 0.5584), (0.3852, 0.72), (0.6148, 0.72)),
        description="tight centred alignment for generators (eyes y=0.40, mouth y=0.72)",
    ),
}


def get_template(template: str | CropTemplate) -> CropTemplate:
    """Look a template up by name (or pass a :class:`CropTemplate` through)."""
    if isinstance(template, CropTemplate):
        return template
    try:
        return TEMPLATES[template]
    except KeyError:
        raise ValueError(f"unknown crop template {template!r}; choose from {sorted(TEMPLATES)}") from None


# --------------------------------------------------------------------------- transforms


def estimate_similarity(
    src_pts: np.ndarray, dst_pts: np.ndarray, *, method: Literal["umeyama", "lmeds"] = "umeyama"
) -> np.ndarray:
    """(2, 3) float64 similarity ``M`` (rotation, uniform scale, translation; no reflection)
    minimising ``sum |dst - M @ [src; 1]|^2`` for ``src_pts``, ``dst_pts``: (N, 2), N >= 2.

    ``"umeyama"``: closed-form least squares (Umeyama 1991). ``"lmeds"``: OpenCV's robust
    ``estimateAffinePartial2D`` (least median of squares; needs N >= 3 for robustness).
    """
    src = np.asarray(src_pts, dtype=np.float64)
    dst = np.asarray(dst_pts, dtype=np.float64)
    if src.ndim != 2 or src.shape[1] != 2 or src.shape != dst.shape or len(src) < 2:
        raise ValueError(f"need two (N, 2) point arrays with N >= 2, got {src.shape} and {dst.shape}")
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        raise ValueError("points must be finite")
    if method == "lmeds":
        m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
        if m is None:
            raise ValueError("cv2.estimateAffinePartial2D failed (degenerate points)")
        return m.astype(np.float64)
    if method != "umeyama":
        raise ValueError(f"method must be 'umeyama' or 'lmeds', got {method!r}")

    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    xs, xd = src - mu_s, dst - mu_d
    var_s = float((xs**2).sum()) / len(src)
    if var_s < 1e-12:
        raise ValueError("source points are degenerate (all equal)")
    cov = xd.T @ xs / len(src)  # (2, 2)
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # exclude reflections
        sign[-1] = -1.0
    rot = u @ np.diag(sign) @ vt
    scale = float((d * sign).sum()) / var_s
    trans = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, trans[:, None]])


def alignment_matrix(landmarks: np.ndarray, *, template: str | CropTemplate = "fer2013", size: int = 48) -> np.ndarray:
    """(2, 3) matrix mapping image pixels to pixels of the ``size`` crop for ``template``.

    landmarks: (5, 2) image pixel coordinates in the standard order.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (5, 2):
        raise ValueError(f"landmarks must have shape (5, 2), got {pts.shape}")
    return estimate_similarity(pts, get_template(template).points_px(size))


def to_opencv_matrix(matrix: np.ndarray) -> np.ndarray:
    """Convert a (2, 3) continuous-coordinate matrix to OpenCV's integer-pixel-centre convention."""
    m = np.array(matrix, dtype=np.float64)
    m[:, 2] += m[:, :2].sum(axis=1) * 0.5 - 0.5
    return m


def warp_crop(
    image: np.ndarray,
    matrix: np.ndarray,
    size: int,
    *,
    grayscale: bool = False,
    border: Literal["replicate", "constant"] = "replicate",
) -> np.ndarray:
    """Warp ``image`` (H, W[, 3]) uint8 by ``matrix`` (2, 3) into a (size, size[, 3]) uint8 crop.

    ``matrix`` maps continuous image coordinates to continuous crop coordinates. Outside the
    image, borders are replicated (or black with ``border="constant"``). Strong downscaling (scale < 0.5) renders at up to 4x the size and reduces with
    area averaging, to avoid aliasing.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    m = np.asarray(matrix, dtype=np.float64)
    scale = math.sqrt(abs(float(np.linalg.det(m[:, :2]))))
    k = 1 if scale <= 0 or scale >= 0.5 else min(4, int(1.0 / scale))
    mode = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}[border]
    out = cv2.warpAffine(image, to_opencv_matrix(m * k), (size * k, size * k), flags=cv2.INTER_LINEAR, borderMode=mode)
    if k > 1:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
    if grayscale and out.ndim == 3:
        out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(out)


def align_face(
    image_rgb: np.ndarray,
    landmarks: np.ndarray,
    *,
    template: str | CropTemplate = "fer2013",
    size: int = 48,
    grayscale: bool = False,
) -> np.ndarray:
    """Aligned crop: (size, size, 3) uint8 RGB, or (size, size) uint8 if ``grayscale``.

    image_rgb: (H, W, 3) uint8; landmarks: (5, 2) pixels (see module docstring for the order).
    """
    return warp_crop(image_rgb, alignment_matrix(landmarks, template=template, size=size), size, grayscale=grayscale)


def box_matrix(box: tuple[float, float, float, float], size: int, margin: float = 0.2) -> np.ndarray:
    """(2, 3) matrix mapping a square of side ``max(w, h) * (1 + 2 * margin)`` centred on
    ``box`` (x, y, w, h) onto a ``size`` x ``size`` crop."""
    x, y, w, h = (float(v) for v in box)
    side = max(w, h) * (1.0 + 2.0 * margin)
    if side <= 0:
        raise ValueError(f"box must have positive size, got {box}")
    s = size / side
    cx, cy = x + w / 2.0, y + h / 2.0
    return np.array([[s, 0.0, size / 2.0 - s * cx], [0.0, s, size / 2.0 - s * cy]])


def crop_box(
    image: np.ndarray,
    box: tuple[float, float, float, float],
    size: int,
    margin: float = 0.2,
    *,
    grayscale: bool = False,
) -> np.ndarray:
    """Square crop around ``box`` (x, y, w, h), for faces without landmarks.

    The square has side ``max(w, h) * (1 + 2 * margin)`` and the box's centre; it is resized to
    (size, size[, 3]) uint8, borders replicated.
    """
    return warp_crop(image, box_matrix(box, size, margin), size, grayscale=grayscale)
