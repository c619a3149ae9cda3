"""Recognising the faces of a video frame by frame, with a track id per face (what ``genfer recognize
clip.mp4`` runs).

>>> from genfer.api import Recognizer
>>> from genfer.video.recognize import VideoRecognizer
>>> video = VideoRecognizer(Recognizer(), every=5, smooth=3)      # doctest: +SKIP
>>> for frame in video.iter_frames("clip.mp4"):                    # doctest: +SKIP
...     [(f.track, f.face.label) for f in frame.faces]
>>> Recognizer.to_frame(video.iter_frames("clip.mp4"))             # doctest: +SKIP  (pandas: one row per face)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from genfer.api import FaceResult, Recognizer
from genfer.tables import face_row
from genfer.video.decode import read_frames
from genfer.video.smooth import TrackSmoother
from genfer.video.track import FaceTracker

__all__ = ["FrameResult", "TrackedFace", "VideoRecognizer"]


@dataclass
class TrackedFace:
    """A face of a frame: its ``track`` id, its recognition (probabilities smoothed over the track when asked), the
    aligned ``crop`` the model read and ``extra`` (what an ``extra`` function made of the crop, e.g. a poker face)."""

    track: int
    face: FaceResult
    crop: np.ndarray
    extra: Any = None


@dataclass
class FrameResult:
    """One processed frame: ``index`` in the video, ``time`` in seconds, its tracked faces and the RGB ``image``
    (H, W, 3) uint8 (drop it if you keep results: it is the whole frame)."""

    path: str
    index: int
    time: float
    faces: list[TrackedFace] = field(default_factory=list)
    image: np.ndarray | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One table row per face (:data:`genfer.tables.VIDEO_KEYS` first)."""
        return [face_row(f.face, path=self.path, frame=self.index, time=round(self.time, 3), track=f.track)
                for f in self.faces]


class VideoRecognizer:
    """Detect, align, recognise and track the faces of a video's sampled frames.

    Args:
        recognizer: the :class:`~genfer.api.Recognizer` that finds and reads the faces.
        every: keep every N-th frame (1: all). ``fps``: keep about F frames per second instead.
        smooth: average each track's probabilities over its last ``smooth`` processed frames (1: none); the label
            is the smoothed probabilities' argmax.
        extra: optional ``fn(crops (N, S, S[, 3]) uint8) -> list`` run on each frame's aligned crops (e.g. poker faces).
        iou_threshold, max_distance, max_age, min_similarity: the :class:`~genfer.video.track.FaceTracker`'s.
    """

    def __init__(self, recognizer: Recognizer, *, every: int = 1, fps: float | None = None, smooth: int = 1,
                 extra: Callable[[np.ndarray], list] | None = None, iou_threshold: float = 0.3,
                 max_distance: float = 0.5, max_age: int = 10, min_similarity: float = 0.5) -> None:
        if every < 1:
            raise ValueError(f"--every must be >= 1, not {every}")
        if fps is not None and fps <= 0:
            raise ValueError(f"--fps must be > 0, not {fps}")
        if smooth < 1:
            raise ValueError(f"--smooth must be >= 1, not {smooth}")
        self.recognizer, self.every, self.fps, self.smooth, self.extra = recognizer, every, fps, smooth, extra
        self.tracking = {"iou_threshold": iou_threshold, "max_distance": max_distance, "max_age": max_age,
                         "min_similarity": min_similarity}
        FaceTracker(**self.tracking)  # check the values now

    def iter_frames(self, path: str | os.PathLike) -> Iterator[FrameResult]:
        """The sampled frames' results, in order, one frame in memory at a time."""
        tracker, smoother = FaceTracker(**self.tracking), TrackSmoother(self.smooth)
        for frame in read_frames(path, every=self.every, fps=self.fps):
            _, crops, metas = self.recognizer.find_faces(frame.image, frame.index)
            result = FrameResult(path=os.fspath(path), index=frame.index, time=frame.time, image=frame.image)
            if crops:
                stacked = np.stack(crops)
                probs = self.recognizer.predict_crops(stacked)
                extras = self.extra(stacked) if self.extra else [None] * len(crops)
                ids = tracker.update([m["box"] for m in metas], [m["landmarks"] for m in metas], crops)
                for track, p, meta, crop, extra in zip(ids, probs, metas, crops, extras):
                    face = self.recognizer.face_result(smoother(track, p), meta)
                    result.faces.append(TrackedFace(track=track, face=face, crop=crop, extra=extra))
            else:
                tracker.update([])
            smoother.step()
            yield result
