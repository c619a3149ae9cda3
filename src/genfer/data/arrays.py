"""In-memory uint8 arrays of a whole dataset split, cached on disk.

Small-face training (48–112 px) is fastest from one uint8 tensor in memory with batched tensor
augmentation; decoding 28k PNGs takes ~20 s, so the decoded array is cached under
``$GENFER_CACHE`` (default ``~/.cache/genfer``) keyed by the split's identity and the image size.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch

from genfer.data.base import FaceImages

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Folder for genfer's caches (``$GENFER_CACHE`` or ``~/.cache/genfer``)."""
    return Path(os.environ.get("GENFER_CACHE", Path.home() / ".cache" / "genfer"))


def _key(images: FaceImages, size: int, channels: int) -> str:
    h = hashlib.sha1()
    root = str(images.paths[0].parent.resolve()) if images.paths else ""
    h.update(f"{images.name}|{root}|{len(images)}|{size}|{channels}".encode())
    for i in images.ids:
        h.update(i.encode())
    return h.hexdigest()[:16]


def split_tensor(images: FaceImages, size: int, channels: int, *, progress: bool = False) -> torch.Tensor:
    """The split's images as a ``(N, C, size, size)`` uint8 tensor (cached on disk)."""
    path = cache_dir() / "arrays" / f"{images.name.replace('/', '_')}-{_key(images, size, channels)}.npy"
    if path.is_file():
        arr = np.load(path)
    else:
        arr = images.to_array(size, grayscale=channels == 1, progress=progress)
        _save_cached(path, arr)
    t = torch.from_numpy(arr)
    return t.unsqueeze(1) if channels == 1 else t.permute(0, 3, 1, 2).contiguous()


def pixel_hashes(images: FaceImages, *, progress: bool = False) -> np.ndarray:
    """An exact-pixel fingerprint of every image, (N,) 16-byte strings (cached on disk like the arrays).

    Two images share a fingerprint when their decoded pixels (mode, size and values, as stored) are identical; a
    face box, if any, is not applied. Used to drop evaluation faces that duplicate training faces.
    """
    from tqdm import tqdm

    path = cache_dir() / "hashes" / f"{images.name.replace('/', '_')}-{_key(images, 0, 0)}.npy"
    if path.is_file():
        return np.load(path)
    out = np.empty(len(images), dtype="S16")
    for i in tqdm(range(len(images)), desc=f"hashing {images.name}", disable=not progress, unit="img"):
        img = images.image(i)
        digest = hashlib.blake2b(f"{img.mode}|{img.size}|".encode(), digest_size=16)
        digest.update(np.asarray(img).tobytes())
        out[i] = digest.digest()
    _save_cached(path, out)
    return out


def _save_cached(path: Path, arr: np.ndarray) -> None:
    """Write ``arr`` to ``path`` atomically; a read-only cache folder only logs a warning."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, arr)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not cache %s: %s", path, exc)
