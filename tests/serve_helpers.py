"""What the ``genfer serve`` tests share: the loaded models (once per session) and test photos as uploads."""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="genfer serve's tests need the serve extra (in the test extra)")


@pytest.fixture(scope="session")
def services():
    """The shipped models of every served task, loaded once (about 15 s the first time, imports included)."""
    import torch

    from genfer.serve.services import Services

    torch.set_num_threads(1)
    s = Services()
    s.load()
    return s


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory):
    """The first sample upload (Grace Hopper, one face) written to a file, for the CLI."""
    name, data = sample_uploads()[0]
    path = tmp_path_factory.mktemp("photos") / name
    path.write_bytes(data)
    return path


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def sample_uploads() -> list[tuple[str, bytes]]:
    """Distinct uploads (name, PNG bytes): Grace Hopper (matplotlib's photo) and genfer's generated smile,
    each as is, mirrored, cropped and scaled; each has one face and its own probabilities."""
    from genfer.faces.io import load_image

    hopper = load_image(Path(str(resources.files("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg")))
    smile = load_image(Path(str(resources.files("genfer") / "assets" / "samples" / "generated_smile.png")))
    smile = np.asarray(Image.fromarray(smile).resize((256, 256), Image.BICUBIC))
    photos = []
    for name, image in (("hopper", hopper), ("smile", smile)):
        h, w = image.shape[:2]
        variants = {"": image, "_mirrored": image[:, ::-1], "_top": image[: int(h * 0.9)],
                    "_small": np.asarray(Image.fromarray(image).resize((w * 3 // 4, h * 3 // 4)))}
        photos += [(f"{name}{suffix}.png", png_bytes(np.ascontiguousarray(v))) for suffix, v in variants.items()]
    return photos
