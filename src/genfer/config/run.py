"""The part of a run config every training method shares (:class:`RunConfig`), and the pooled-images variant
of the generative methods (:class:`PooledRunConfig`).

Each method's train config subclasses one of them and adds only what is its own (networks, losses, optimisers,
its length and evaluation cadence, counted in the method's own unit: epochs, kimg or steps). ``method`` is a
class attribute naming the method in :mod:`genfer.registry`; it is written into every ``config.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from genfer.config.base import _check


@dataclass(frozen=True)
class RunConfig:
    """Identity and runtime of a training run.

    ``name`` labels progress and logs; ``seed`` seeds every random stream; ``threads`` (0: torch's default),
    ``checkpoint_minutes`` (wall-clock interval between checkpoints) and ``keep_checkpoints`` may change when a
    run is resumed.
    """

    method: ClassVar[str] = ""

    name: str = "run"
    seed: int = 0
    threads: int = 0
    checkpoint_minutes: float = 5.0
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        _check(self.threads >= 0, "threads must be >= 0 (0 = torch default)")
        _check(self.checkpoint_minutes > 0, "checkpoint_minutes must be > 0")
        _check(self.keep_checkpoints >= 1, "keep_checkpoints must be >= 1")


@dataclass(frozen=True)
class ImageSource:
    """One dataset split used as unlabelled images.

    ``root`` empty means ``$GENFER_DATA/<dataset folder>``; a relative ``root`` that does not exist
    from the working directory is taken under ``$GENFER_DATA`` (so ``csv`` + ``faces128`` reads
    ``$GENFER_DATA/faces128/labels.csv``). ``split`` empty means the whole dataset (``folder``/``csv``).
    """

    dataset: str = "ferplus"
    root: str = ""
    split: str = "train"


DEFAULT_SOURCES = (ImageSource("ferplus", "", "train"), ImageSource("csv", "faces128", ""))
"""FERPlus train (the FER2013 training faces) + ``faces128``: what the CPU generative models learn from."""


@dataclass(frozen=True)
class PooledRunConfig(RunConfig):
    """A run on pooled unlabelled images: the sources and the held-out slice (the last ``holdout`` of the pooled
    images after a fixed shuffle; ``limit`` > 0 keeps only the first images)."""

    sources: tuple[ImageSource, ...] = DEFAULT_SOURCES
    limit: int = 0
    holdout: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(len(self.sources) >= 1, "sources must name at least one dataset")
        _check(self.holdout >= 0 and self.limit >= 0, "holdout and limit must be >= 0")
