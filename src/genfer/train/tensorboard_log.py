"""TensorBoard event files of a training run, beside its ``metrics.jsonl``: the same scalars, and the image grids.

Written with :class:`torch.utils.tensorboard.SummaryWriter` into the run folder itself, so ``tensorboard --logdir
runs/`` shows each run under its folder name. On by default when the ``tensorboard`` package is installed (the
``tensorboard`` extra); without it, or with ``enabled=False`` (``genfer train --no-tensorboard``), nothing is
written and ``metrics.jsonl`` stays the only log.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from pathlib import Path
from typing import Any

from genfer.runs import scalar_values

log = logging.getLogger(__name__)


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package (needed by ``torch.utils.tensorboard``) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLog:
    """Scalars and images of one run as TensorBoard events (rank 0 only: others pass ``log_dir=None``).

    Args:
        log_dir: the run folder.
        start_step: the step the run (re)starts from; events a previous session wrote beyond it are purged, so a
            resumed run's curves have no doubled segment.
        enabled: False writes nothing.
    """

    def __init__(self, log_dir: str | Path | None, *, start_step: int = 0, enabled: bool = True) -> None:
        self.writer = None
        if log_dir is None or not enabled:
            return
        if not tensorboard_available():
            log.info("tensorboard is not installed: metrics.jsonl only (pip install 'genfer[tensorboard]')")
            return
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(log_dir), purge_step=start_step or None)

    @property
    def active(self) -> bool:
        return self.writer is not None

    def scalars(self, event: str, step: int, record: dict[str, Any]) -> None:
        """Each number of ``record`` as the scalar ``<event>/<key>`` at ``step`` (NaN and infinities skipped)."""
        if self.writer is None:
            return
        for key, value in scalar_values(record).items():
            if math.isfinite(value):
                self.writer.add_scalar(f"{event}/{key}", value, step)

    def image(self, tag: str, path: str | Path, step: int) -> None:
        """A PNG (e.g. a sample grid) as image ``tag`` at ``step``."""
        if self.writer is None:
            return
        import numpy as np
        from PIL import Image

        with Image.open(path) as img:
            array = np.asarray(img.convert("L") if img.mode in ("L", "I;16", "I") else img.convert("RGB"))
        self.writer.add_image(tag, array, step, dataformats="HW" if array.ndim == 2 else "HWC")

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


__all__ = ["TensorBoardLog", "tensorboard_available"]
