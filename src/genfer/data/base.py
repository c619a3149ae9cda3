"""The common shape every dataset reader returns: :class:`FaceImages`.

A reader validates a dataset layout on disk and returns a ``FaceImages``: a sequence of labelled face
images with canonical label indices (see :mod:`genfer.labels`), optional vote distributions and optional
face boxes. Pixels are loaded lazily, one image at a time, so a reader over a large dataset costs only
its index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from genfer.labels import EMOTIONS


class DatasetLayoutError(ValueError):
    """A dataset root does not have the expected layout; the message names what is missing."""


class DatasetImageError(DatasetLayoutError):
    """An image file of a dataset cannot be read (corrupt, truncated, not an image); the message names it."""


def require_path(path: Path, what: str, dataset: str) -> Path:
    """Return ``path`` if it exists, else raise :class:`DatasetLayoutError` naming it."""
    if not path.exists():
        raise DatasetLayoutError(f"{dataset}: missing {what}: {path}")
    return path


@dataclass
class FaceImages:
    """Labelled face images of one dataset split.

    Attributes:
        name: dataset name and split, e.g. ``"ferplus/valid"``.
        classes: canonical emotion names the labels index into (``EMOTIONS[:7]`` or ``EMOTIONS``).
        labels: ``(N,)`` int64 canonical indices; ``-1`` for unlabelled images.
        ids: ``N`` stable identifiers (relative file names or row numbers).
        loader: ``loader(i) -> PIL.Image`` for image ``i`` (any mode; callers convert).
        votes: optional ``(N, len(classes))`` float32 vote distribution (rows sum to 1).
        boxes: optional ``(N, 4)`` float32 face boxes ``x, y, w, h`` in pixels, NaN where unknown.
        groups: optional group of every image (e.g. Multi-PIE's pose, MMI's subject): ``genfer eval``
            reports the accuracy per group.
    """

    name: str
    classes: tuple[str, ...]
    labels: np.ndarray
    ids: list[str]
    loader: Callable[[int], Image.Image]
    votes: np.ndarray | None = None
    boxes: np.ndarray | None = None
    paths: list[Path] | None = field(default=None, repr=False)
    groups: list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        n = len(self.labels)
        if len(self.ids) != n:
            raise ValueError(f"{self.name}: {len(self.ids)} ids for {n} labels")
        if not set(self.classes) <= set(EMOTIONS):
            raise ValueError(f"{self.name}: non-canonical classes {self.classes}")
        if self.votes is not None and self.votes.shape != (n, len(self.classes)):
            raise ValueError(f"{self.name}: votes shape {self.votes.shape} != {(n, len(self.classes))}")
        if self.boxes is not None and self.boxes.shape != (n, 4):
            raise ValueError(f"{self.name}: boxes shape {self.boxes.shape} != {(n, 4)}")
        if self.groups is not None and len(self.groups) != n:
            raise ValueError(f"{self.name}: {len(self.groups)} groups for {n} labels")

    @classmethod
    def from_files(
        cls,
        name: str,
        classes: tuple[str, ...],
        paths: Sequence[Path],
        labels: Sequence[int] | np.ndarray,
        *,
        root: Path | None = None,
        ids: list[str] | None = None,
        **extra: np.ndarray | None,
    ) -> "FaceImages":
        """Images stored one per file; ids default to the paths relative to ``root``."""
        paths = list(paths)
        if ids is None:
            ids = [p.relative_to(root).as_posix() if root else p.name for p in paths]
        return cls(name=name, classes=classes, labels=np.asarray(labels, np.int64), ids=ids,
                   loader=path_loader(paths), paths=paths, **extra)

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, index: int) -> Image.Image:
        """Image ``index`` as a PIL image (mode as stored)."""
        return self.loader(index)

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> "FaceImages":
        """A view on the images at ``indices`` (loader re-indexed); a boolean mask selects where true."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"{self.name}: boolean mask of shape {idx.shape} for {len(self)} images")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        parent = self.loader
        return FaceImages(
            name=name or self.name,
            classes=self.classes,
            labels=self.labels[idx],
            ids=[self.ids[i] for i in idx],
            loader=lambda i: parent(int(idx[i])),
            votes=None if self.votes is None else self.votes[idx],
            boxes=None if self.boxes is None else self.boxes[idx],
            paths=None if self.paths is None else [self.paths[i] for i in idx],
            groups=None if self.groups is None else [self.groups[i] for i in idx],
        )

    def class_counts(self) -> dict[str, int]:
        """Number of images per class name (unlabelled images not counted)."""
        return {c: int((self.labels == k).sum()) for k, c in enumerate(self.classes)}

    def to_array(self, size: int, *, grayscale: bool = True, progress: bool = False) -> np.ndarray:
        """All images resized to ``size``×``size``: ``(N, size, size)`` uint8 (or ``(N, size, size, 3)``).

        Crops the face box first where one is known.
        """
        from tqdm import tqdm

        channels = () if grayscale else (3,)
        out = np.empty((len(self), size, size, *channels), dtype=np.uint8)
        for i in tqdm(range(len(self)), desc=f"loading {self.name}", disable=not progress, unit="img"):
            img = self.image(i)
            if self.boxes is not None and not np.isnan(self.boxes[i]).any():
                x, y, w, h = self.boxes[i]
                img = img.crop((int(x), int(y), int(x + w), int(y + h)))
            img = img.convert("L" if grayscale else "RGB")
            if img.size != (size, size):
                img = img.resize((size, size), Image.BILINEAR)
            out[i] = np.asarray(img)
        return out


def open_image_file(path: Path) -> Image.Image:
    """``path`` fully decoded with PIL, EXIF orientation applied; any failure is a :class:`DatasetImageError`."""
    from PIL import ImageOps

    try:
        with Image.open(path) as im:
            im.load()
            try:
                return ImageOps.exif_transpose(im).copy()
            except Exception:  # noqa: BLE001 - malformed EXIF must not make the pixels unreadable
                return im.copy()
    except Image.DecompressionBombError:
        raise DatasetImageError(f"cannot read dataset image {path}: too large (--skip-bad leaves such images out)") \
            from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError):
        raise DatasetImageError(f"cannot read dataset image {path}: not an image or corrupt (--skip-bad leaves such "
                                "images out)") from None


def path_loader(paths: Sequence[Path]) -> Callable[[int], Image.Image]:
    """A loader that opens ``paths[i]`` with PIL, applying EXIF orientation (:func:`open_image_file`)."""

    def load(i: int) -> Image.Image:
        return open_image_file(paths[i])

    return load


def drop_unreadable(images: FaceImages, *, progress: bool = False) -> tuple[FaceImages, list[str]]:
    """``images`` without those that cannot be decoded, and the ids of those left out (``--skip-bad``)."""
    from tqdm import tqdm

    bad = []
    for i in tqdm(range(len(images)), desc=f"checking {images.name}", disable=not progress, unit="img"):
        try:
            images.image(i)
        except DatasetImageError:
            bad.append(i)
    if not bad:
        return images, []
    keep = np.setdiff1d(np.arange(len(images)), bad)
    return images.subset(keep), [images.ids[i] for i in bad]
