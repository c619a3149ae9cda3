"""Checking uploaded images before any model sees them: size, content sniffing, pixel count, decoding.

Every failure is an :class:`UploadError` with an HTTP status and a one-line message; messages about the image
itself are the ones ``genfer recognize`` prints for the same file (``cannot read image NAME: ...``).
"""

from __future__ import annotations

import io
import re

import numpy as np

from genfer.faces.io import ImageReadError, load_image

__all__ = ["IMAGE_SIGNATURES", "UploadError", "decode_upload", "sniff_image_type"]

IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
    (b"BM", "bmp"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"P1", "pnm"), (b"P2", "pnm"), (b"P3", "pnm"),
    (b"P4", "pnm"), (b"P5", "pnm"), (b"P6", "pnm"),
)
"""Leading bytes of the image formats the server accepts (WebP is sniffed separately: ``RIFF....WEBP``)."""


class UploadError(ValueError):
    """A rejected upload: ``status`` (400, 413 or 415) and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def sniff_image_type(data: bytes) -> str | None:
    """The image format named by the first bytes of ``data`` (``jpeg``, ``png``, ...), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in IMAGE_SIGNATURES if data.startswith(magic)), None)


def _not_an_image(name: str) -> str:
    """The CLI's message for a file that is not an image (what :func:`load_image` says)."""
    try:
        load_image(b"", name=name)
    except ImageReadError as exc:
        return str(exc)
    raise AssertionError("empty bytes decoded as an image")  # pragma: no cover


def decode_upload(data: bytes, name: str, *, max_pixels: int) -> np.ndarray:
    """An uploaded file's bytes -> (H, W, 3) uint8 RGB, or :class:`UploadError`.

    Empty uploads and uploads whose bytes are no known image format get 415 with the CLI's "not an image" line;
    images over ``max_pixels`` (read from the header, before decoding) 413; images that look like an image but
    do not decode (truncated, corrupt) 400 with the CLI's message.
    """
    if sniff_image_type(data) is None:
        raise UploadError(415, _not_an_image(name))
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            pixels = im.size[0] * im.size[1]
    except Image.DecompressionBombError as exc:  # PIL's own limit, far above ours: its message has the count
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else max_pixels + 1
    except Exception:  # noqa: BLE001 - any header failure: let the decoder below report it in the CLI's words
        pixels = 0
    if pixels > max_pixels:
        raise UploadError(413, f"cannot read image {name}: too large ({pixels} pixels; this server reads at most "
                               f"{max_pixels})")
    try:
        return load_image(data, name=name)
    except ImageReadError as exc:
        raise UploadError(400, str(exc)) from exc
