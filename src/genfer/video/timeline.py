"""The timeline plot of a video: each track's emotion probabilities over time, one panel per track (PNG)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from genfer.render import EMOTION_COLOURS

__all__ = ["Timeline"]


class Timeline:
    """Collects (time, probabilities) per track as frames are processed and plots them.

    Keeps K float32 values and one time per tracked face per processed frame (about 40 bytes for 8 emotions: a
    10-minute clip at 30 frames/s with two faces keeps about 1.4 MB).
    """

    def __init__(self, classes: Sequence[str]) -> None:
        self.classes = list(classes)
        self._times: dict[int, list[float]] = defaultdict(list)
        self._probs: dict[int, list[np.ndarray]] = defaultdict(list)

    def add(self, track: int, time: float, probabilities: dict[str, float]) -> None:
        self._times[track].append(time)
        self._probs[track].append(np.array([probabilities[c] for c in self.classes], np.float32))

    @property
    def tracks(self) -> list[int]:
        return sorted(self._times)

    def series(self, track: int) -> tuple[np.ndarray, np.ndarray]:
        """(times (T,), probabilities (T, K)) of one track."""
        return np.asarray(self._times[track]), np.stack(self._probs[track])

    def save(self, path: str | Path, *, title: str = "", max_tracks: int = 8) -> Path:
        """Plot the ``max_tracks`` longest tracks (in id order) as stacked panels; returns the PNG's path."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        longest = sorted(sorted(self.tracks, key=lambda t: -len(self._times[t]))[:max_tracks])
        fig, axes = plt.subplots(max(1, len(longest)), 1, figsize=(10, 1.8 + 1.6 * max(1, len(longest))),
                                 sharex=True, squeeze=False)
        for ax, track in zip(axes[:, 0], longest):
            times, probs = self.series(track)
            for k, name in enumerate(self.classes):
                colour = np.array(EMOTION_COLOURS.get(name, (128, 128, 128))) / 255
                ax.plot(times, probs[:, k], color=colour, lw=1.2, label=name)
            ax.set_ylim(0, 1)
            ax.set_ylabel(f"track {track}")
        if longest:
            axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        else:
            axes[0, 0].text(0.5, 0.5, "no face found", ha="center", va="center")
        axes[-1, 0].set_xlabel("time (s)")
        if title:
            axes[0, 0].set_title(title)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path
