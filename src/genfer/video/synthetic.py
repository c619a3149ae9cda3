"""Test clips with known face tracks: photos of faces moving over a background, a slideshow of "scenes".

Each scene shows ``faces_per_scene`` photos, each gliding along its own smooth path inside its own vertical lane
(faces never overlap); every scene change brings new faces, so a clip of S scenes has S x faces_per_scene ground
truth tracks. :func:`write_clip` writes the video and returns the ground truth; :func:`id_switches` counts how
often a tracker changed the id it gave one true track.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

__all__ = ["ClipTruth", "frames", "id_switches", "match_tracks", "write_clip"]


@dataclass
class ClipTruth:
    """Ground truth of a clip: per frame, the (true track, box ``x, y, w, h``) of each face."""

    fps: float
    size: tuple[int, int]
    boxes: list[list[tuple[int, tuple[float, float, float, float]]]] = field(default_factory=list)

    @property
    def tracks(self) -> int:
        return len({t for frame in self.boxes for t, _ in frame})


def _background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = 90 + 40 * np.sin(xx / 37.0)[..., None] * np.cos(yy / 53.0)[..., None] + rng.normal(0, 6, (h, w, 3))
    tint = np.array([1.0, 0.95, 0.85])
    return np.clip(base * tint, 0, 255).astype(np.uint8)


def frames(photos: Sequence[np.ndarray], *, seconds: float, fps: float = 25.0, size: tuple[int, int] = (640, 480),
           faces_per_scene: int = 2, scene_seconds: float = 4.0, face_size: int = 150,
           seed: int = 0) -> Iterator[tuple[np.ndarray, list[tuple[int, tuple[float, float, float, float]]]]]:
    """(RGB frame (H, W, 3) uint8, [(true track, box)]) for each frame; photos are (h, w, 3) uint8 face photos."""
    rng = np.random.default_rng(seed)
    w, h = size
    lane = w / faces_per_scene
    if face_size > min(lane, h):
        raise ValueError(f"face_size {face_size} does not fit {faces_per_scene} lanes of a {w}x{h} frame")
    background = _background(size, rng)
    per_scene = max(1, int(round(scene_seconds * fps)))
    tiles: list[np.ndarray] = []
    phases = np.zeros((faces_per_scene, 2))
    for index in range(int(round(seconds * fps))):
        scene, t = divmod(index, per_scene)
        if t == 0:  # a new scene: new photos, new paths
            picks = rng.choice(len(photos), faces_per_scene, replace=len(photos) < faces_per_scene)
            tiles = [np.asarray(Image.fromarray(photos[k]).convert("RGB").resize((face_size, face_size),
                                                                                 Image.BICUBIC)) for k in picks]
            phases = rng.uniform(0, 2 * np.pi, (faces_per_scene, 2))
        frame = background.copy()
        truth = []
        for slot, tile in enumerate(tiles):
            s = index / fps
            cx = lane * (slot + 0.5) + (lane - face_size) / 2 * np.sin(0.9 * s + phases[slot, 0])
            cy = h / 2 + (h - face_size) / 2 * np.sin(0.6 * s + phases[slot, 1])
            x, y = int(round(cx - face_size / 2)), int(round(cy - face_size / 2))
            frame[y : y + face_size, x : x + face_size] = tile
            truth.append((scene * faces_per_scene + slot + 1, (float(x), float(y), float(face_size), float(face_size))))
        yield frame, truth


def write_clip(path: str | os.PathLike, photos: Sequence[np.ndarray], *, seconds: float, fps: float = 25.0,
               size: tuple[int, int] = (640, 480), keep_boxes: bool = True, **kwargs) -> ClipTruth:
    """Write :func:`frames` as an MPEG-4 video at ``path``; returns the ground truth (boxes kept if ``keep_boxes``)."""
    from genfer.video.draw import AnnotatedVideo

    truth = ClipTruth(fps=fps, size=size)
    with AnnotatedVideo(path, fps=fps, size=size) as writer:
        for frame, boxes in frames(photos, seconds=seconds, fps=fps, size=size, **kwargs):
            writer.write(frame)
            if keep_boxes:
                truth.boxes.append(boxes)
    return truth


def match_tracks(truth: ClipTruth, found: dict[int, list[tuple[int, list[float]]]], *,
                 min_iou: float = 0.3) -> dict[int, list[int]]:
    """For each true track, the ids a tracker gave it in order: ``found`` maps frame index -> [(id, box)]; each
    true face takes the found face that overlaps it most (IoU >= ``min_iou``)."""
    from genfer.video.track import iou_matrix

    ids: dict[int, list[int]] = {}
    for index, faces in sorted(found.items()):
        if not faces or index >= len(truth.boxes):
            continue
        true_faces = truth.boxes[index]
        overlap = iou_matrix(np.array([b for _, b in true_faces]), np.array([b for _, b in faces]))
        for (true_id, _), row in zip(true_faces, overlap):
            if row.max() >= min_iou:
                ids.setdefault(true_id, []).append(faces[int(row.argmax())][0])
    return ids


def id_switches(ids_per_track: dict[int, list[int]]) -> int:
    """How many times the id given to a true track changed from one matched frame to the next, over all tracks."""
    return sum(sum(a != b for a, b in zip(ids, ids[1:])) for ids in ids_per_track.values())
