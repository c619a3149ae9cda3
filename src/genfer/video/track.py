"""Following faces across video frames: a track id per face, by box overlap (IoU) or landmark distance.

Each processed frame's faces are matched one-to-one to the live tracks by the Hungarian algorithm on a cost
that prefers overlap: ``1 - IoU`` when the boxes overlap by at least ``iou_threshold``, else ``1 + d`` when the
mean landmark (or centre) distance ``d``, in units of the track's face size ``sqrt(w h)``, is at most
``max_distance`` (a face that moved fast between two sampled frames), else no match. When the aligned face crops
are given, a pair whose crops correlate below ``min_similarity`` (zero-mean normalised correlation of the crops at
24 x 24 grey) is never matched: another person who appears where a face was (a cut) starts a new track. Unmatched
faces start new tracks; a track unseen for more than ``max_age`` processed frames ends. Ids count from 1 and are
never reused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FaceTracker", "appearance", "iou_matrix"]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes ``a`` (N, 4) and ``b`` (M, 4), each ``x, y, w, h`` -> (N, M)."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y2 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def appearance(crop: np.ndarray) -> np.ndarray:
    """An aligned face crop (S, S) or (S, S, 3) uint8 -> (576,) zero-mean unit vector of its 24 x 24 grey pixels."""
    import cv2

    grey = crop if crop.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    v = cv2.resize(grey, (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    v -= v.mean()
    return v / max(float(np.linalg.norm(v)), 1e-6)


def _points(box: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray:
    """(P, 2) points compared between frames: the landmarks, or the box centre."""
    if landmarks is not None and len(landmarks):
        return np.asarray(landmarks, float).reshape(-1, 2)
    return np.array([[box[0] + box[2] / 2, box[1] + box[3] / 2]])


@dataclass
class _Track:
    id: int
    box: np.ndarray
    points: np.ndarray
    look: np.ndarray | None = None
    unseen: int = 0


class FaceTracker:
    """Assign track ids to each frame's faces (call :meth:`update` once per processed frame, in order)."""

    NO_MATCH = 1e6

    def __init__(self, *, iou_threshold: float = 0.3, max_distance: float = 0.5, max_age: int = 10,
                 min_similarity: float = 0.5) -> None:
        if not 0 < iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in (0, 1], not {iou_threshold}")
        if max_distance < 0 or max_age < 0:
            raise ValueError("max_distance and max_age must be >= 0")
        self.iou_threshold, self.max_distance, self.max_age = iou_threshold, max_distance, max_age
        self.min_similarity = min_similarity
        self.tracks: list[_Track] = []
        self._next_id = 1

    def cost(self, boxes: np.ndarray, points: list[np.ndarray], looks: list[np.ndarray | None]) -> np.ndarray:
        """(tracks, faces) association cost (``NO_MATCH`` where they may not be matched)."""
        cost = np.full((len(self.tracks), len(boxes)), self.NO_MATCH)
        if not self.tracks or not len(boxes):
            return cost
        overlap = iou_matrix(np.stack([t.box for t in self.tracks]), boxes)
        for i, track in enumerate(self.tracks):
            scale = max(float(np.sqrt(track.box[2] * track.box[3])), 1e-6)
            for j in range(len(boxes)):
                if track.look is not None and looks[j] is not None and track.look @ looks[j] < self.min_similarity:
                    continue
                if overlap[i, j] >= self.iou_threshold:
                    cost[i, j] = 1.0 - overlap[i, j]
                elif track.points.shape == points[j].shape:
                    d = float(np.linalg.norm(track.points - points[j], axis=1).mean()) / scale
                    if d <= self.max_distance:
                        cost[i, j] = 1.0 + d
        return cost

    def update(self, boxes: list[list[float]] | np.ndarray, landmarks: list[list[list[float]] | None] | None = None,
               crops: list[np.ndarray] | None = None) -> list[int]:
        """The track id of each face: boxes (N, 4) ``x, y, w, h``; optional landmarks (N, P, 2) (or None each) and
        aligned crops (N, S, S[, 3]) uint8."""
        from scipy.optimize import linear_sum_assignment

        boxes = np.asarray(boxes, float).reshape(-1, 4)
        landmarks = landmarks if landmarks is not None else [None] * len(boxes)
        points = [_points(b, lm) for b, lm in zip(boxes, landmarks)]
        looks = [appearance(c) for c in crops] if crops is not None else [None] * len(boxes)
        cost = self.cost(boxes, points, looks)
        ids = [0] * len(boxes)
        matched: set[int] = set()
        if cost.size:
            for i, j in zip(*linear_sum_assignment(cost)):
                if cost[i, j] < self.NO_MATCH:
                    track = self.tracks[i]
                    track.box, track.points, track.look, track.unseen = boxes[j], points[j], looks[j], 0
                    ids[j] = track.id
                    matched.add(i)
        for i, track in enumerate(self.tracks):
            if i not in matched:
                track.unseen += 1
        self.tracks = [t for t in self.tracks if t.unseen <= self.max_age]
        for j in range(len(boxes)):
            if not ids[j]:
                self.tracks.append(_Track(id=self._next_id, box=boxes[j], points=points[j], look=looks[j]))
                ids[j] = self._next_id
                self._next_id += 1
        return ids
