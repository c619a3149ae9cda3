"""Where genfer finds data: ``$GENFER_DATA``, else ``../shared/data`` beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    """The shared data folder (``$GENFER_DATA``; else ``<cwd or repo>/../shared/data``).

    Returns the first candidate that exists, or the ``$GENFER_DATA`` / repo-relative path if none does
    (callers report it as missing).
    """
    env = os.environ.get("GENFER_DATA")
    if env:
        return Path(env)
    candidates = [Path.cwd().parent / "shared" / "data", REPO_ROOT.parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[-1]


def dataset_root(dataset: str, root: str | os.PathLike[str] | None) -> Path:
    """``root`` if given, else ``data_root()/<folder of dataset>``."""
    if root:
        return Path(root)
    folder = {"affectnet7": "affectnet", "affectnet8": "affectnet"}.get(dataset, dataset)
    return data_root() / folder
