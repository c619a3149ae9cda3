"""A corpus of images that hold no face, built in code (plus objects and animals from images shipped in packages).

Used by the face-gate tests and by ``benchmarks/face_gate.py`` (false-face rate). Every image is (H, W, 3) uint8
RGB; :func:`nonface_corpus` returns ``(name, image)`` pairs in a fixed order (seeded, so the corpus never changes).

Groups: flat colours (incl. a 1x1 image), noise, gradients, synthetic textures (checkerboards, stripes,
gratings, blobs), texture photos and objects/animals from scikit-image's data folder and matplotlib's sample data
(full image, centre square and two tight square crops each). Pictures of people (scikit-image's astronaut,
camera, lfw_subset; matplotlib's grace_hopper) are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PACKAGE_PICTURES = {
    "skimage": ("chelsea.png", "coffee.png", "rocket.jpg", "horse.png", "motorcycle_left.png", "motorcycle_right.png",
                "coins.png", "moon.png", "hubble_deep_field.jpg", "clock_motion.png", "chessboard_RGB.png", "logo.png",
                "text.png", "page.png", "cell.png", "ihc.png", "retina.jpg", "phantom.png", "microaneurysms.png",
                "color.png", "brick.png", "grass.png", "gravel.png"),
    "matplotlib": ("logo2.png", "Minduka_Present_Blue_Pack.png"),
}
"""Files (no people in them) of each package's data folder."""


def _data_folder(package: str) -> Path | None:
    try:
        module = __import__(package)
    except ImportError:
        return None
    base = Path(module.__file__).parent
    return base / "data" if package == "skimage" else base / "mpl-data" / "sample_data"


def _rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(gray, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def synthetic_nonfaces(seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Flat colours, noise, gradients and textures: ``(name, (H, W, 3) uint8)``."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, np.ndarray]] = []
    colours = [(128, 128, 128), (0, 0, 0), (255, 255, 255), (200, 150, 120), (90, 60, 40), (30, 90, 200)]
    for k, c in enumerate(colours):
        for size in (48, 200):
            out.append((f"flat-{k}-{size}", np.full((size, size, 3), c, np.uint8)))
    out.append(("flat-1x1", np.full((1, 1, 3), 128, np.uint8)))
    for size in (48, 200, 350):
        out.append((f"noise-uniform-gray-{size}", _rgb(rng.integers(0, 256, (size, size)))))
        out.append((f"noise-uniform-rgb-{size}", rng.integers(0, 256, (size, size, 3)).astype(np.uint8)))
        out.append((f"noise-gauss-{size}", _rgb(rng.normal(128, 40, (size, size)))))
        blurred = np.cumsum(np.cumsum(rng.normal(0, 1, (size, size)), 0), 1)
        out.append((f"noise-brown-{size}", _rgb(255 * (blurred - blurred.min()) / np.ptp(blurred))))
    for size in (48, 200):
        y, x = np.mgrid[0:size, 0:size] / (size - 1)
        r = np.hypot(x - 0.5, y - 0.5) / np.sqrt(0.5)
        for name, field in (("h", x), ("v", y), ("diag", (x + y) / 2), ("radial", r), ("radial-inv", 1 - r)):
            out.append((f"gradient-{name}-{size}", _rgb(255 * field)))
        for period in (4, 12, 25):
            check = ((np.arange(size)[:, None] // period + np.arange(size)[None] // period) % 2) * 255
            out.append((f"checker-{period}-{size}", _rgb(check)))
            out.append((f"stripes-{period}-{size}", _rgb(((np.arange(size)[None] // period) % 2 * 255)
                                                         .repeat(size, 0))))
        for freq in (3, 9):
            out.append((f"grating-{freq}-{size}", _rgb(127.5 + 127.5 * np.sin(2 * np.pi * freq * (x + 0.5 * y)))))
        blobs = rng.normal(0, 1, (size // 8 + 2, size // 8 + 2))
        up = np.kron(blobs, np.ones((8, 8)))[:size, :size]
        out.append((f"blobs-{size}", _rgb(np.where(up > 0, 220, 40))))
    return out


def _square_crops(name: str, image: np.ndarray, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """The whole picture, its centre square and two random tight squares (half the shorter side)."""
    h, w = image.shape[:2]
    s = min(h, w)
    out = [(name, image), (f"{name}-centre", image[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s])]
    half = max(8, s // 2)
    for k in range(2):
        y, x = int(rng.integers(0, h - half + 1)), int(rng.integers(0, w - half + 1))
        out.append((f"{name}-crop{k}", image[y:y + half, x:x + half]))
    return [(n, np.ascontiguousarray(im)) for n, im in out]


def package_nonfaces(seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Objects, animals and texture photos shipped in installed packages (skipped when a package is absent)."""
    from genfer.faces.io import load_image

    rng = np.random.default_rng(seed)
    out: list[tuple[str, np.ndarray]] = []
    for package, files in PACKAGE_PICTURES.items():
        folder = _data_folder(package)
        if folder is None:
            continue
        for file in files:
            if (folder / file).is_file():
                out += _square_crops(f"{package}-{Path(file).stem}", load_image(folder / file), rng)
    return out


def nonface_corpus(seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """The whole non-face corpus: :func:`synthetic_nonfaces` then :func:`package_nonfaces`."""
    return synthetic_nonfaces(seed) + package_nonfaces(seed)
