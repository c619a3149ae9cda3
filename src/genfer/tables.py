"""Results as tables: one record (row) per face, written as CSV as they come or turned into a pandas DataFrame.

Photo rows: ``path, face, x, y, w, h, label, source, score`` and one column per emotion (its probability); video
rows (:mod:`genfer.video`) put ``frame, time, track`` after ``path``. A result object either has a ``rows()``
method (video frames) or is a photo result (``path``, ``faces`` of ``box``/``label``/``probabilities``/``source``/
``score``, as :class:`genfer.api.ImageResult`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable, Sequence

__all__ = ["PHOTO_KEYS", "VIDEO_KEYS", "CsvTable", "face_row", "image_rows", "records", "table_columns", "to_frame"]

PHOTO_KEYS = ("path", "face")
"""The columns that say where a photo's face is (before the face's own columns)."""

VIDEO_KEYS = ("path", "frame", "time", "track")
"""The columns that say where a video's face is: frame index, time in seconds, track id."""

FACE_KEYS = ("x", "y", "w", "h", "label", "source", "score")


def table_columns(classes: Sequence[str], keys: Sequence[str] = PHOTO_KEYS) -> list[str]:
    """The header of a table: ``keys``, the face's box, label, source and score, then one column per class."""
    return [*keys, *FACE_KEYS, *classes]


def face_row(face: Any, /, **first: Any) -> dict[str, Any]:
    """One face's row: the ``first`` columns, then box, label, source, score and each emotion's probability."""
    x, y, w, h = (round(float(v), 1) for v in face.box)
    row = {**first, "x": x, "y": y, "w": w, "h": h, "label": face.label, "source": face.source,
           "score": None if face.score is None else round(float(face.score), 4)}
    row.update({name: round(float(p), 5) for name, p in face.probabilities.items()})
    return row


def image_rows(result: Any) -> list[dict[str, Any]]:
    """The rows of a photo's faces (``face`` counts from 1); a photo without a face has no row."""
    return [face_row(face, path=result.path, face=k + 1) for k, face in enumerate(result.faces)]


def records(results: Iterable[Any]) -> list[dict[str, Any]]:
    """All rows of photo or video-frame results, in order."""
    out: list[dict[str, Any]] = []
    for result in results:
        out += result.rows() if hasattr(result, "rows") else image_rows(result)
    return out


def to_frame(results_or_records: Iterable[Any]) -> Any:
    """A pandas DataFrame of results (or of rows already made): one row per face. Needs pandas."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError("to_frame needs pandas (pip install pandas); records() gives the same rows as dicts") from exc
    rows = list(results_or_records)
    if rows and not isinstance(rows[0], dict):
        rows = records(rows)
    return pd.DataFrame.from_records(rows)


class CsvTable:
    """A CSV file written row by row (streaming: nothing is kept); the header is ``columns`` or the first row's keys.

    ``path`` None makes a table that writes nothing (so callers need no branch). Use as a context manager or
    call :meth:`close`.
    """

    def __init__(self, path: str | Path | None, columns: Sequence[str] | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.columns = list(columns) if columns else None
        self._file = None
        self._writer: csv.DictWriter | None = None
        self.rows = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", newline="")

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        if self._file is None:
            return
        for row in rows:
            if self._writer is None:
                self._writer = csv.DictWriter(self._file, fieldnames=self.columns or list(row), extrasaction="ignore")
                self._writer.writeheader()
            self._writer.writerow(row)
            self.rows += 1

    def add(self, result: Any) -> None:
        """Write the rows of one photo or video-frame result."""
        self.write(records([result]))

    def close(self) -> None:
        if self._file is not None:
            if self._writer is None and self.columns:  # no face at all: still a header
                csv.DictWriter(self._file, fieldnames=self.columns).writeheader()
            self._file.close()
            self._file = None

    def __enter__(self) -> "CsvTable":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
