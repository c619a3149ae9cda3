"""Dataset registry: open any supported dataset by name.

>>> faces = open_dataset("ferplus", "../shared/data/ferplus", "valid")  # doctest: +SKIP

Names: ``fer2013``, ``ferplus``, ``rafdb``, ``affectnet7``, ``affectnet8``, ``ckplus``, ``jaffe``, ``sfew``,
``mmi``, ``multipie``, ``folder`` (``root/<class>/*``) and ``csv`` (``path,label`` rows). Options are passed to
the reader (e.g. ``label_source="fer2013"`` for ``ferplus``, ``include_neutral=True`` for ``ckplus``).
"""

from __future__ import annotations

import inspect
from functools import partial
from pathlib import Path
from typing import Any, Callable

from genfer.data.affectnet import load_affectnet
from genfer.data.base import DatasetLayoutError, FaceImages
from genfer.data.ckplus import load_ckplus
from genfer.data.fer2013 import load_fer2013
from genfer.data.ferplus import load_ferplus
from genfer.data.generic import load_csv, load_image_folder
from genfer.data.jaffe import load_jaffe
from genfer.data.mmi import load_mmi
from genfer.data.multipie import load_multipie
from genfer.data.rafdb import load_rafdb
from genfer.data.sfew import load_sfew

Loader = Callable[..., FaceImages]

DATASETS: dict[str, Loader] = {
    "fer2013": load_fer2013,
    "ferplus": load_ferplus,
    "rafdb": load_rafdb,
    "affectnet7": partial(load_affectnet, num_classes=7),
    "affectnet8": partial(load_affectnet, num_classes=8),
    "ckplus": load_ckplus,
    "jaffe": load_jaffe,
    "sfew": load_sfew,
    "mmi": load_mmi,
    "multipie": load_multipie,
    "folder": load_image_folder,
    "csv": load_csv,
}
"""Dataset name -> reader ``(root, split, **options) -> FaceImages``."""

DEFAULT_SPLITS: dict[str, str | None] = {
    "fer2013": "PublicTest",
    "ferplus": "valid",
    "rafdb": "test",
    "affectnet7": "valid",
    "affectnet8": "valid",
    "ckplus": "all",
    "jaffe": "all",
    "sfew": "val",
    "mmi": "all",
    "multipie": "all",
    "folder": None,
    "csv": None,
}
"""The split each dataset is evaluated on here (PrivateTest / FER2013Test are withheld)."""


def _lookup(name: str) -> str:
    key = name.strip().lower()
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return key


def default_split(name: str) -> str | None:
    """The evaluation split of dataset ``name`` (``None``: the whole folder / CSV)."""
    return DEFAULT_SPLITS[_lookup(name)]


def dataset_options(name: str) -> tuple[str, ...]:
    """Keyword options the reader of dataset ``name`` accepts besides ``root`` and ``split``."""
    loader = DATASETS[_lookup(name)]
    bound = loader.keywords if isinstance(loader, partial) else {}
    params = inspect.signature(loader).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in bound)


def open_dataset(name: str, root: str | Path, split: str | None = None, **options: Any) -> FaceImages:
    """Open split ``split`` of dataset ``name`` stored at ``root``.

    Args:
        name: a key of :data:`DATASETS` (case-insensitive).
        root: the dataset folder (or file, for ``fer2013`` / ``csv``).
        split: the split; ``None`` means :func:`default_split` (for ``folder`` / ``csv``: everything).
        options: reader-specific keyword options.

    Raises:
        ValueError: unknown dataset name or option.
        DatasetLayoutError: ``root`` missing or not laid out as the dataset expects.
    """
    key = _lookup(name)
    accepted = dataset_options(key)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"{key}: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(accepted) or 'none'}"
        )
    root = Path(root)
    if not root.exists():
        raise DatasetLayoutError(f"{key}: dataset root does not exist: {root}")
    if split is None:
        split = DEFAULT_SPLITS[key]
    return DATASETS[key](root, split, **options)
