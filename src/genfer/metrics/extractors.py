"""Feature extractors for FID/KID, each with a ``name`` reported next to every figure it produces.

- ``inception``: the FID Inception-v3 (:mod:`genfer.metrics.inception`), 2048-d, from a weights file
  the user supplies. Figures are comparable with pytorch-fid's (same network, same resize).
- ``genfer-fer``: the penultimate (pooled) features of a genfer expression recognizer, offline. The
  features are face- and expression-specific; figures are NOT comparable with published FIDs, nor
  across recognizer models (the model is part of the name: ``genfer-fer:<model>``).

Every extractor takes images ``(B, C, H, W)`` in [-1, 1] (genfer's model input convention), C = 1 or 3,
any H, W, and returns float32 features ``(B, D)``; ``num_features`` is D.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from genfer.hub import REFERENCE_RECOGNIZER, load_recognizer
from genfer.io.images import check_signed_unit_range, match_channels, resize
from genfer.metrics.inception import load_fid_inception

EXTRACTORS = ("genfer-fer", "inception")
"""Names accepted by :func:`build_extractor`."""



class InceptionExtractor(nn.Module):
    """FID Inception-v3 pool features (2048-d); name ``inception``."""

    name = "inception"

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.num_features = int(getattr(net, "num_features", 2048))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) in [-1, 1] -> (B, 2048)."""
        check_signed_unit_range(x, self.name)
        return self.net(match_channels(x, 3).float()).float()


class RecognizerExtractor(nn.Module):
    """Pooled penultimate features of a genfer recognizer; name ``genfer-fer:<model>``.

    Args:
        model: a recognizer with ``pooled_features(x) -> (B, D)`` and ``num_features``.
        image_size: the recognizer's input side (inputs are resized to it).
        in_chans: the recognizer's input channels (RGB inputs become luma for 1).
        model_name: recorded in :attr:`name`.
    """

    def __init__(self, model: nn.Module, *, image_size: int, in_chans: int, model_name: str) -> None:
        super().__init__()
        if not hasattr(model, "pooled_features"):
            raise ValueError(f"{type(model).__name__} has no pooled_features; not a genfer recognizer")
        self.model = model.eval()
        self.image_size = image_size
        self.in_chans = in_chans
        self.num_features = int(model.num_features)
        self.name = f"genfer-fer:{model_name}"

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) in [-1, 1] -> the recognizer's input (B, in_chans, size, size)."""
        check_signed_unit_range(x, "genfer-fer")
        return resize(match_channels(x.float(), self.in_chans), self.image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) in [-1, 1] -> (B, D)."""
        return self.model.pooled_features(self.prepare(x)).float()


def load_recognizer_extractor(model: str | Path, *, device: str = "cpu") -> RecognizerExtractor:
    """The ``genfer-fer`` extractor of a shipped recognizer name or model/checkpoint folder."""

    loaded = load_recognizer(model, device=device)
    return RecognizerExtractor(loaded.model, image_size=loaded.image_size, in_chans=loaded.in_chans,
                               model_name=loaded.name)


def build_extractor(
    name: str,
    *,
    model: str | Path | None = None,
    inception_weights: str | Path | None = None,
    device: str = "cpu",
) -> nn.Module:
    """An extractor by name (see :data:`EXTRACTORS`), in eval mode on ``device``.

    Args:
        model: recognizer for ``genfer-fer`` (default: :data:`genfer.hub.REFERENCE_RECOGNIZER`, pinned).
        inception_weights: weights file for ``inception`` (default: the cache folder, see
            :func:`genfer.metrics.inception.default_inception_path`).
    """
    if name == "genfer-fer":

        return load_recognizer_extractor(model or REFERENCE_RECOGNIZER, device=device)
    if name == "inception":

        return InceptionExtractor(load_fid_inception(inception_weights, device=device)).eval()
    raise ValueError(f"unknown feature extractor {name!r}; available: {', '.join(EXTRACTORS)}")
