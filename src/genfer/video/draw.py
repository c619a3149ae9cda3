"""Annotated videos: each processed frame with its tracked faces drawn (box, landmarks, ``#track label p``) and,
optionally, an image beside each face (its poker face), written with OpenCV as the frames come."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from genfer.render import annotate

__all__ = ["AnnotatedVideo", "draw_frame"]

FOURCC = {".avi": "MJPG", ".mkv": "MJPG"}
"""Codec by output extension; anything else (``.mp4``, ``.mov``, ``.m4v``) is MPEG-4 Part 2 (``mp4v``), which every
OpenCV build writes."""


def draw_frame(image: np.ndarray, faces: Sequence[Any], *, beside: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 frame with its :class:`~genfer.video.recognize.TrackedFace` faces drawn; with ``beside``,
    each face's ``extra`` image (a uint8 (S, S) or (S, S, 3) crop) scaled to the box's height and put to the right of
    the box (or to its left at the frame's edge)."""
    img = annotate(image, [f.face for f in faces], prefixes=[f"#{f.track} " for f in faces])
    if beside:
        for f in faces:
            if f.extra is None:
                continue
            x, y, w, h = (int(round(v)) for v in f.face.box)
            side = max(8, h)
            tile = Image.fromarray(np.asarray(f.extra)).convert("RGB").resize((side, side), Image.BICUBIC)
            left = x + w + 4 if x + w + 4 + side <= img.width else max(0, x - 4 - side)
            img.paste(tile, (left, max(0, min(y, img.height - side))))
    return np.asarray(img)


class AnnotatedVideo:
    """A video file written frame by frame (RGB (H, W, 3) uint8 frames of one size) at ``fps``."""

    def __init__(self, path: str | os.PathLike, *, fps: float, size: tuple[int, int]) -> None:
        import cv2

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter_fourcc(*FOURCC.get(self.path.suffix.lower(), "mp4v"))
        self._writer = cv2.VideoWriter(str(self.path), fourcc, float(fps), size)
        if not self._writer.isOpened():
            raise ValueError(f"cannot write video {self.path} (use .mp4 or .avi)")
        self.frames = 0

    def write(self, frame_rgb: np.ndarray) -> None:
        import cv2

        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        self._writer.release()

    def __enter__(self) -> "AnnotatedVideo":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
