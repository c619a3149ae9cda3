"""Append-only JSON-lines metrics log (one object per line, flushed at once)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from genfer.io.json_text import dumps


class MetricsLog:
    """Write ``{"time": ..., **metrics}`` lines to ``path`` (rank 0 only; others pass ``path=None``)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **metrics: Any) -> None:
        if self.path is None:
            return
        with open(self.path, "a") as f:
            f.write(dumps({"time": round(time.time(), 3), **metrics}) + "\n")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All records of a metrics log."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
