"""genfer: facial expression recognition by learning to generate expressions.

The most used entry points are re-exported lazily (importing ``genfer`` alone does not load torch)::

    from genfer import Recognizer, EMOTIONS
    from genfer import Neutralizer, ExpressionTransfer, FaceInverter   # PF-ViT, switch-unit GAN, GAN inversion
    from genfer import Editor              # latent emotion editing: edit, neutralize, transfer in W+
"""

from __future__ import annotations

from typing import Any

from genfer.labels import EMOTIONS, EMOTIONS_7

__all__ = ["EMOTIONS", "EMOTIONS_7", "Editor", "ExpressionTransfer", "FaceInverter", "Neutralizer", "Recognizer", "load_gan",
           "open_dataset", "recognize", "__version__"]

try:
    from importlib.metadata import version as _version

    __version__ = _version("genfer")
except Exception:  # noqa: BLE001 - not installed (e.g. run from a source tree)
    __version__ = "0.0.0"

_LAZY = {
    "Recognizer": "genfer.api",
    "recognize": "genfer.api",
    "open_dataset": "genfer.data.registry",
    "Neutralizer": "genfer.pipelines.neutralize",
    "Editor": "genfer.pipelines.latent",
    "ExpressionTransfer": "genfer.pipelines.transfer",
    "FaceInverter": "genfer.inversion.faces",
    "load_gan": "genfer.inversion.load",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genfer' has no attribute {name!r}")
