"""Reading videos frame by frame with OpenCV, keeping every N-th frame or a target frame rate."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = ["Frame", "VIDEO_EXTENSIONS", "VideoInfo", "is_video", "read_frames", "sampled_indices", "video_info"]

VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg",
                                              ".wmv", ".flv"})
"""File extensions (lower case, with dot) read as videos."""


def is_video(path: str | os.PathLike) -> bool:
    return isinstance(path, (str, os.PathLike)) and Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoInfo:
    """What the container says: frames per second, frame count (0 when unknown), frame width and height."""

    fps: float
    frames: int
    width: int
    height: int


@dataclass
class Frame:
    """One decoded frame: its index in the video, its time in seconds and the (H, W, 3) uint8 RGB pixels."""

    index: int
    time: float
    image: np.ndarray


def _open(path: str | os.PathLike):
    import cv2

    if not Path(path).is_file():
        raise FileNotFoundError(f"no such video: {path}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"cannot read video {path}: not a video or an unsupported codec")
    return cap


def video_info(path: str | os.PathLike) -> VideoInfo:
    import cv2

    cap = _open(path)
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        return VideoInfo(fps=fps if fps > 0 else 25.0, frames=max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))),
                         width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        cap.release()


def sampled_indices(fps: float, *, every: int = 1, target_fps: float | None = None) -> Iterator[bool]:
    """For frame 0, 1, 2, ...: whether it is kept. ``every`` N keeps frames 0, N, 2N, ...; ``target_fps`` F keeps
    the first frame at or after each multiple of 1/F seconds (at most the video's own rate)."""
    if every < 1:
        raise ValueError(f"every must be >= 1, not {every}")
    if target_fps is not None and target_fps <= 0:
        raise ValueError(f"fps must be > 0, not {target_fps}")
    index, next_time = 0, 0.0
    while True:
        if target_fps is None:
            yield index % every == 0
        else:
            keep = index / fps >= next_time - 1e-9
            if keep:
                next_time += 1.0 / target_fps
                while next_time <= index / fps:  # a target rate above the video's own
                    next_time += 1.0 / target_fps
            yield keep
        index += 1


def read_frames(path: str | os.PathLike, *, every: int = 1, fps: float | None = None) -> Iterator[Frame]:
    """The kept frames of a video (see :func:`sampled_indices`), decoded one at a time (skipped frames are only
    grabbed, not converted)."""
    import cv2

    info = video_info(path)
    cap = _open(path)
    try:
        for index, keep in enumerate(sampled_indices(info.fps, every=every, target_fps=fps)):
            if not cap.grab():
                return
            if not keep:
                continue
            ok, bgr = cap.retrieve()
            if not ok:
                return
            yield Frame(index=index, time=index / info.fps, image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()


def count_sampled(info: VideoInfo, *, every: int = 1, fps: float | None = None) -> int | None:
    """How many frames :func:`read_frames` keeps (None when the container does not say how many it has)."""
    if not info.frames:
        return None
    keep = sampled_indices(info.fps, every=every, target_fps=fps)
    return sum(next(keep) for _ in range(info.frames))
