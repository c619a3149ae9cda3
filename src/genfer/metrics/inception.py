"""The FID Inception-v3: the TensorFlow 2015-12-05 graph as pytorch-fid ports it, with offline weights.

It is torchvision's Inception-v3 (1008 classes, no auxiliary head) with the FID variant's blocks:
average pools that ignore padding in Mixed_5b–5d, 6b–6e and 7b, and a max pool in Mixed_7c's pool
branch. Features are the 2048-d global average pool after Mixed_7c; inputs are resized to 299×299
(bilinear, ``align_corners=False``, no antialiasing) first.

Weights are never downloaded: pass pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (or a
safetensors copy with the same keys, e.g. ``Conv2d_1a_3x3.conv.weight``, ``Mixed_7c.branch_pool.bn.
running_var``, ``fc.weight``) to :func:`load_fid_inception`, or put it in
``$GENFER_CACHE/inception/`` (default ``~/.cache/genfer/inception/``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import inception as tv_inception

from genfer.data.arrays import cache_dir
from genfer.io import CheckpointError, load_into
from genfer.metrics.weights import read_weights

log = logging.getLogger(__name__)

INCEPTION_FILENAMES = ("pt_inception-2015-12-05-6726825d.pth", "pt_inception-2015-12-05.pth",
                       "pt_inception-2015-12-05.safetensors")
"""File names looked for in the cache folder, in order."""


def _avg_pool_no_pad(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's average pool divides by the number of real (non-padding) pixels.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _FIDInceptionA(tv_inception.InceptionA):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_pool_no_pad(x))
        return torch.cat([b1, b5, b3, bp], 1)


class _FIDInceptionC(tv_inception.InceptionC):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_avg_pool_no_pad(x))
        return torch.cat([b1, b7, bd, bp], 1)


class _FIDInceptionE(tv_inception.InceptionE):
    """InceptionE with an average pool ignoring padding (Mixed_7b) or a max pool (Mixed_7c)."""

    def __init__(self, in_channels: int, *, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.max_pool = max_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _avg_pool_no_pad(x)
        return torch.cat([b1, b3, bd, self.branch_pool(pooled)], 1)


_TRUNK = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
          "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
          "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")


class FIDInceptionV3(nn.Module):
    """Inception-v3, FID variant; ``forward`` gives the 2048-d pool features.

    Submodules keep torchvision's names, so the state-dict keys are those of pytorch-fid's weights file
    (including ``fc`` with 1008 outputs, which the features do not use).
    """

    num_features = 2048

    def __init__(self) -> None:
        super().__init__()
        net = tv_inception.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
        net.Mixed_5b = _FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = _FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = _FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = _FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = _FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = _FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = _FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = _FIDInceptionE(1280, max_pool=False)
        net.Mixed_7c = _FIDInceptionE(2048, max_pool=True)
        for name in (*_TRUNK, "fc"):
            self.add_module(name, getattr(net, name))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) in [-1, 1] -> (B, 2048) pool features (resized to 299×299 first)."""
        if x.shape[-2:] != (299, 299):
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        for name in _TRUNK:
            x = getattr(self, name)(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def default_inception_path() -> Path | None:
    """The first Inception weights file found in ``$GENFER_CACHE/inception/``, or None."""
    folder = cache_dir() / "inception"
    for name in INCEPTION_FILENAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def load_fid_inception(path: str | Path | None = None, *, device: str = "cpu") -> FIDInceptionV3:
    """The FID Inception-v3 with weights from ``path`` (default: :func:`default_inception_path`).

    Missing ``num_batches_tracked`` buffers are tolerated (older exports lack them); any other missing or
    unexpected key, or a shape mismatch, is a :class:`CheckpointError`.
    """
    if path is None:
        path = default_inception_path()
        if path is None:
            raise CheckpointError("no Inception weights: pass --inception-weights PATH (pytorch-fid's "
                                  "pt_inception-2015-12-05-6726825d.pth) or put it in $GENFER_CACHE/inception/")
    state = dict(read_weights(path))
    model = FIDInceptionV3()
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value
    load_into(model, state, source=str(path))
    log.info("loaded FID Inception-v3 weights from %s", path)
    return model.eval().to(device)
