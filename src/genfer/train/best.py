"""A run's best evaluation: the model folder of the best value of a metric so far (``RUN/best/``) and the plateau
rule that ends a run once the metric has stopped improving (StyleGAN2's FID: ``plateau_kimg``), or once it has reached a
target (``target_fid``)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from genfer.io.files import atomic_folder

SNAPSHOT_FILE = "snapshot.json"
"""In ``best/``: the metric, its value, the step and the position (e.g. kimg) of the snapshot."""


@dataclass
class BestSnapshot:
    """The best value of ``metric`` (lower is better) seen at the evaluations of a run, and where it was.

    ``position`` is the run's progress in the unit the plateau is counted in (kimg for StyleGAN2);
    ``evaluated_at`` the position of the latest evaluation, best or not: the plateau is judged there, so a run
    resumed between two evaluations stops exactly where the uninterrupted run would have.
    """

    folder: Path
    metric: str
    value: float | None = None
    position: float | None = None
    step: int | None = None
    evaluated_at: float | None = None

    @classmethod
    def from_records(cls, folder: Path, metric: str, records: Iterable[dict[str, Any]], *, upto_step: int,
                     position: Callable[[int], float]) -> BestSnapshot:
        """The best of the logged evaluations up to ``upto_step`` (a resumed run's history; later records belong
        to steps that were not checkpointed and are trained again)."""
        best = cls(folder=Path(folder), metric=metric)
        for r in records:
            value, step = r.get(metric), r.get("step")
            if r.get("event") != "eval" or not isinstance(step, int) or step > upto_step:
                continue
            best.evaluated_at = position(step)
            if isinstance(value, (int, float)) and best._improves(float(value)):
                best.value, best.step, best.position = float(value), step, position(step)
        return best

    def _improves(self, value: float) -> bool:
        return math.isfinite(value) and (self.value is None or value < self.value)

    def offer(self, value: float, *, step: int, position: float, export: Callable[[Path], Any]) -> bool:
        """Record ``value`` measured at ``step``; if it is the best so far, ``export(folder)`` writes the model
        into a temporary folder that then replaces ``best/``. True when it was the best."""
        self.evaluated_at = position
        if not self._improves(value):
            return False
        with atomic_folder(self.folder) as tmp:
            export(tmp)
            (tmp / SNAPSHOT_FILE).write_text(json.dumps(
                {"metric": self.metric, "value": value, "step": step, "position": position}, indent=2) + "\n")
        self.value, self.step, self.position = value, step, position
        return True

    def holds_best(self) -> bool:
        """Whether ``best/`` holds the snapshot of the best value (False when that evaluation predates
        ``best/``, e.g. in a run resumed from code that did not keep it)."""
        try:
            saved = json.loads((self.folder / SNAPSHOT_FILE).read_text())
        except (OSError, ValueError):
            return False
        return self.step is not None and saved.get("step") == self.step

    def plateau(self, patience: float, unit: str = "kimg") -> str | None:
        """The reason to stop when the best value is ``patience`` or more behind the latest evaluation (None: go
        on). Judged at evaluations only: between two of them nothing new is known about the metric."""
        now = self.evaluated_at
        if patience <= 0 or self.position is None or now is None or now - self.position < patience:
            return None
        return (f"{self.metric} has not improved for {now - self.position:g} {unit} "
                f"(best {self.value:.4g} at {self.position:g} {unit})")

    def reached(self, target: float) -> str | None:
        """The reason to stop when the best value is at or below ``target`` (None: go on; ``target`` 0: off)."""
        if target <= 0 or self.value is None or self.value > target:
            return None
        return f"{self.metric} reached {self.value:.4g} <= {target:g} (at {self.position:g})"


__all__ = ["BestSnapshot", "SNAPSHOT_FILE"]
