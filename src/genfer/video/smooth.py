"""Smoothing each track's probabilities over its last few processed frames (a moving average)."""

from __future__ import annotations

from collections import deque

import numpy as np

__all__ = ["TrackSmoother"]


class TrackSmoother:
    """The mean of a track's last ``window`` probability vectors (``window`` 1: unchanged).

    Tracks that were not updated for ``forget`` calls of :meth:`step` are dropped (bounded memory).
    """

    def __init__(self, window: int = 1, *, forget: int = 100) -> None:
        if window < 1:
            raise ValueError(f"the smoothing window must be >= 1, not {window}")
        self.window, self.forget = window, forget
        self._history: dict[int, deque[np.ndarray]] = {}
        self._last_seen: dict[int, int] = {}
        self._step = 0

    def __call__(self, track: int, probabilities: np.ndarray) -> np.ndarray:
        """(K,) probabilities of ``track`` in this frame -> (K,) mean over its last ``window`` frames."""
        history = self._history.setdefault(track, deque(maxlen=self.window))
        history.append(np.asarray(probabilities, np.float64))
        self._last_seen[track] = self._step
        return np.mean(history, axis=0)

    def step(self) -> None:
        """End of a frame: forget tracks unseen for ``forget`` frames."""
        self._step += 1
        for track in [t for t, s in self._last_seen.items() if self._step - s > self.forget]:
            del self._history[track], self._last_seen[track]
