"""Read images from any common source into one canonical array: (H, W, 3) uint8 RGB.

Sources: a path (``str`` / ``Path``), encoded bytes, a ``PIL.Image.Image`` or a numpy array.
Every failure to read becomes an :class:`ImageReadError` with one line naming the file.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "ImageSource",
    "list_images",
    "load_image",
]

log = logging.getLogger(__name__)

#: File extensions (lower case, with dot) treated as images when expanding folders.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm"}
)

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | Image.Image | np.ndarray


class ImageReadError(ValueError):
    """An image could not be read or converted; the message names the source."""


# --------------------------------------------------------------------------- public API


def load_image(src: ImageSource, *, name: str | None = None) -> np.ndarray:
    """Load ``src`` as a C-contiguous ``(H, W, 3)`` uint8 RGB array.

    Files and PIL images: EXIF orientation is applied; grayscale ("1", "L", "I;16", "I", "F")
    becomes gray RGB; alpha ("RGBA", "LA", "PA", palette with transparency) is composited onto
    white; CMYK / YCbCr are converted; 16-bit and 32-bit integer data are scaled by their bit
    depth (``v * 255 / (2**bits - 1)``), never clipped. Multi-frame files give their first frame.

    Arrays: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, dtype uint8,
    uint16 (16-bit scaling), bool, or float in [0, 1]. A uint8 RGB array may be returned as is
    (no copy).

    ``name`` is used in error messages instead of the default (the path, ``<bytes>``, ...).
    Raises :class:`ImageReadError` for missing, unreadable, corrupt or unsupported input.
    """
    if isinstance(src, np.ndarray):
        return _array_to_rgb(src, name or "<array>")
    if isinstance(src, Image.Image):
        return _pil_to_rgb(src, name or "<PIL image>")
    if isinstance(src, (bytes, bytearray, memoryview)):
        label = name or "<bytes>"
        return _pil_to_rgb(_open_pil(io.BytesIO(bytes(src)), label), label)
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        label = name or str(src)
        if not path.exists():
            raise ImageReadError(f"cannot read image {label}: no such file")
        if path.is_dir():
            raise ImageReadError(f"cannot read image {label}: is a directory")
        try:
            with path.open("rb") as fh:
                data = fh.read()
        except OSError as err:
            raise ImageReadError(f"cannot read image {label}: {err.strerror or err}") from err
        return _pil_to_rgb(_open_pil(io.BytesIO(data), label), label)
    raise TypeError(f"load_image: unsupported source type {type(src).__name__}")


def list_images(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files and folders into a list of image paths.

    A folder contributes its images (by :data:`IMAGE_EXTENSIONS`, case-insensitive, hidden files
    skipped) recursively, in sorted order; a file given explicitly is kept whatever its extension.
    Order follows ``paths``; duplicates are dropped. Raises ``FileNotFoundError`` naming the
    first missing path.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Path] = []
    seen: set[Path] = set()
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(
                f
                for f in path.rglob("*")
                if f.suffix.lower() in IMAGE_EXTENSIONS
                and not any(part.startswith(".") for part in f.relative_to(path).parts)
                and f.is_file()
            )
            if not found:
                log.warning("no images found in folder %s", path)
        elif path.is_file():
            found = [path]
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
        for f in found:
            if f not in seen:
                seen.add(f)
                out.append(f)
    return out


# --------------------------------------------------------------------------- PIL path


def _open_pil(fh: io.BytesIO, label: str) -> Image.Image:
    """Open and fully decode an encoded image; every decoder failure becomes ImageReadError."""
    try:
        im = Image.open(fh)
        im.load()  # decode now so truncation errors surface here
        return im
    except Image.DecompressionBombError as err:
        raise ImageReadError(f"cannot read image {label}: too large ({err})") from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageReadError(f"cannot read image {label}: not an image or corrupt") from err


def _pil_to_rgb(im: Image.Image, label: str) -> np.ndarray:
    """Convert a PIL image of any mode (current frame) to (H, W, 3) uint8 RGB."""
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageReadError(f"cannot read image {label}: not an image or corrupt") from err
    try:
        im = ImageOps.exif_transpose(im)
    except Exception as err:  # malformed EXIF must not make the pixels unreadable
        log.warning("ignoring unreadable EXIF orientation in %s: %s", label, err)
    mode = im.mode
    try:
        if mode in ("RGB", "L"):
            arr = np.asarray(im)
        elif mode == "1":
            arr = np.asarray(im.convert("L"))
        elif mode.startswith(("I", "F")):  # I, I;16, I;16B, I;16L, F: keep full precision
            arr = np.asarray(im)
            return _array_to_rgb(arr, label, bits=_bits_per_sample(im))
        elif mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info):
            arr = np.asarray(im.convert("RGBA"))
        else:  # P, CMYK, YCbCr, RGBX, HSV, ...
            arr = np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as err:
        raise ImageReadError(f"cannot read image {label}: unsupported image mode {mode!r}") from err
    return _array_to_rgb(arr, label)


def _bits_per_sample(im: Image.Image) -> int | None:
    """Declared bits per sample (TIFF tag 258) when the file states it, else None."""
    tags = getattr(im, "tag_v2", None)
    if tags is not None:
        bps = tags.get(258)
        if isinstance(bps, tuple):
            bps = bps[0] if bps else None
        if isinstance(bps, int) and 1 <= bps <= 32:
            return bps
    if im.mode.startswith("I;16"):
        return 16
    return None


# --------------------------------------------------------------------------- array path


def _array_to_rgb(arr: np.ndarray, label: str, *, bits: int | None = None) -> np.ndarray:
    """Normalise an (H, W[, C]) array of any supported dtype to (H, W, 3) uint8 RGB."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageReadError(
            f"cannot read image {label}: expected (H, W), (H, W, 3) or (H, W, 4) array, got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageReadError(f"cannot read image {label}: empty image")
    arr = _to_uint8(arr, label, bits=bits)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 4:
        arr = _composite_on_white(arr)
    return np.ascontiguousarray(arr)


def _to_uint8(arr: np.ndarray, label: str, *, bits: int | None) -> np.ndarray:
    """Scale integer data by its bit depth and float data from [0, 1] to uint8."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        finite = np.isfinite(arr)
        if not finite.all():
            raise ImageReadError(f"cannot read image {label}: float image contains NaN or inf")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise ImageReadError(
                f"cannot read image {label}: float image values must be in [0, 1], got [{lo:.3g}, {hi:.3g}]"
            )
        return np.clip(np.rint(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        data = arr.astype(np.int64)
        if data.min() < 0:
            raise ImageReadError(f"cannot read image {label}: negative pixel values")
        if bits is None:
            if arr.dtype == np.uint16 or arr.dtype.itemsize == 2:
                bits = 16
            else:  # 32/64-bit containers (PIL mode "I"): infer the depth the data actually uses
                hi = int(data.max())
                bits = 8 if hi < 2**8 else 16 if hi < 2**16 else 32
        maxval = float(2**bits - 1)
        return np.clip(np.rint(data * (255.0 / maxval)), 0, 255).astype(np.uint8)
    raise ImageReadError(f"cannot read image {label}: unsupported pixel type {arr.dtype}")


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 RGBA -> (H, W, 3) uint8 RGB over a white background."""
    rgb = rgba[:, :, :3].astype(np.uint16)
    alpha = rgba[:, :, 3:4].astype(np.uint16)
    out = (rgb * alpha + 255 * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)
