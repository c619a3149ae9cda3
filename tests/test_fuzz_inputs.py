"""Fuzzing the image loader and the dataset readers (Hypothesis, bounded: slow suite): whatever the bytes, the only
exceptions are genfer's own user errors (one line, exit 2 in the CLI)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from genfer.data.base import DatasetLayoutError  # noqa: E402
from genfer.data.registry import open_dataset  # noqa: E402
from genfer.faces.io import ImageReadError, load_image  # noqa: E402

pytestmark = pytest.mark.slow

BOUNDED = settings(max_examples=150, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _encoded(fmt: str, mode: str, side: int) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(side)
    shape = (side, side) if mode == "L" else (side, side, len(mode))
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buf, format=fmt)
    return buf.getvalue()


VALID = [_encoded(fmt, mode, side) for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
         for mode in ("L", "RGB") for side in (1, 9)]


@st.composite
def damaged_images(draw) -> bytes:
    """A valid encoded image, then truncated, bit-flipped, spliced with random bytes, or all of them."""
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "overwrite"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "truncate":
            del data[at:]
        elif op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(max_size=16))
        elif data:
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[at:at + len(chunk)] = chunk
    return bytes(data)


def _check_rgb(image: np.ndarray) -> None:
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.flags.c_contiguous


@BOUNDED
@given(st.one_of(damaged_images(), st.binary(max_size=256)))
def test_load_image_bytes(data):
    try:
        image = load_image(data)
    except ImageReadError as exc:
        assert "\n" not in str(exc)
        return
    _check_rgb(image)


@BOUNDED
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=4),
       dtype=st.sampled_from(["uint8", "uint16", "int32", "float32", "float64", "bool", "int8", "complex64"]),
       fill=st.sampled_from([0.0, 0.5, 1.0, 2.0, -1.0, float("nan"), float("inf"), 300.0]))
def test_load_image_arrays(shape, dtype, fill):
    with np.errstate(all="ignore"):
        array = np.full(shape, fill).astype(dtype)
    try:
        image = load_image(array)
    except ImageReadError:
        return
    _check_rgb(image)


@BOUNDED
@given(files=st.lists(st.tuples(st.sampled_from(["happy", "sad", "neutral", "angry"]),
                                st.sampled_from([".png", ".jpg", ".gif", ".bmp"]),
                                st.one_of(damaged_images(), st.binary(max_size=64))), min_size=1, max_size=5))
def test_folder_reader(files):
    with tempfile.TemporaryDirectory() as tmp:
        for k, (cls, suffix, data) in enumerate(files):
            (Path(tmp) / cls).mkdir(exist_ok=True)
            (Path(tmp) / cls / f"{k}{suffix}").write_bytes(data)
        _read_all(lambda: open_dataset("folder", tmp))


CSV_CELLS = st.one_of(st.text(alphabet="abcdefgh0123456789 ,.-/\\\"'\n", max_size=12),
                      st.sampled_from(["happy", "neutral", "7", "-1", "99", "", "x.png", "images/x.png", "../x.png"]))


@BOUNDED
@given(header=st.lists(st.sampled_from(["path", "label", "split", "image", "emotion", "usage", "junk", ""]),
                       max_size=4),
       rows=st.lists(st.lists(CSV_CELLS, max_size=4), max_size=5), split=st.sampled_from([None, "train", "test"]),
       image=damaged_images())
def test_csv_reader(header, rows, split, image):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "x.png").write_bytes(image)
        text = "\n".join(",".join(r) for r in [header, *rows])
        (Path(tmp) / "labels.csv").write_text(text)
        _read_all(lambda: open_dataset("csv", tmp, split))


@BOUNDED
@given(rows=st.lists(st.tuples(st.sampled_from(["0", "3", "6", "7", "-1", "x", ""]),
                               st.one_of(st.just(" ".join(["128"] * 2304)), st.text(alphabet="0123456789 -x",
                                                                                   max_size=40)),
                               st.sampled_from(["Training", "PublicTest", "PrivateTest", "Other", ""])),
                     max_size=4),
       split=st.sampled_from(["train", "PublicTest", "test"]))
def test_fer2013_csv_reader(rows, split):
    with tempfile.TemporaryDirectory() as tmp:
        lines = ["emotion,pixels,Usage", *(",".join(r) for r in rows)]
        (Path(tmp) / "fer2013.csv").write_text("\n".join(lines))
        _read_all(lambda: open_dataset("fer2013", tmp, split))


def _read_all(open_fn) -> None:
    """Open a dataset and decode every image; only genfer's user errors may come out."""
    try:
        ds = open_fn()
    except DatasetLayoutError as exc:
        assert "\n" not in str(exc).strip()
        return
    for i in range(len(ds)):
        try:
            img = ds.image(i)
        except (DatasetLayoutError, ImageReadError) as exc:  # DatasetImageError, or a bad FER2013 pixels cell
            assert "\n" not in str(exc).strip()
            continue
        assert img.size[0] >= 1 and img.size[1] >= 1
