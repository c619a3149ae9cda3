"""genfer.faces.io: every image mode and source to (H, W, 3) uint8 RGB; clear read errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genfer.faces import IMAGE_EXTENSIONS, ImageReadError, list_images, load_image


def _check_rgb(arr: np.ndarray, h: int, w: int) -> None:
    assert arr.shape == (h, w, 3)
    assert arr.dtype == np.uint8
    assert arr.flags["C_CONTIGUOUS"]


# --------------------------------------------------------------------------- files by mode


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # stored 40 wide x 20 high; left half red, right half blue
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)
    arr[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": stored left side ends up on top
    path = tmp_path / "rotated.jpg"
    Image.fromarray(arr).save(path, "JPEG", exif=exif.tobytes(), quality=95)
    out = load_image(path)
    _check_rgb(out, 40, 20)
    top, bottom = out[5:15, 5:15].mean(axis=(0, 1)), out[25:35, 5:15].mean(axis=(0, 1))
    assert top[0] > 200 and top[2] < 50  # red on top
    assert bottom[2] > 200 and bottom[0] < 50  # blue below


def test_rgba_png_is_composited_on_white(tmp_path: Path) -> None:
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[0, 0] = (255, 0, 0, 255)  # opaque red
    arr[0, 1] = (0, 0, 0, 0)  # fully transparent -> white
    arr[0, 2] = (0, 0, 0, 128)  # half-transparent black -> mid gray
    path = tmp_path / "alpha.png"
    Image.fromarray(arr, "RGBA").save(path)
    out = load_image(path)
    _check_rgb(out, 4, 4)
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[0, 1].tolist() == [255, 255, 255]
    assert abs(int(out[0, 2, 0]) - 127) <= 1


def test_la_image_is_composited(tmp_path: Path) -> None:
    im = Image.new("LA", (3, 2), (0, 0))  # black, fully transparent
    path = tmp_path / "la.png"
    im.save(path)
    assert load_image(path)[0, 0].tolist() == [255, 255, 255]


@pytest.mark.parametrize("fmt", ["GIF", "PNG"])
def test_palette_with_transparency(tmp_path: Path, fmt: str) -> None:
    im = Image.new("P", (4, 4), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6))  # 0 red, 1 green
    im.putpixel((1, 1), 1)
    path = tmp_path / f"pal.{fmt.lower()}"
    im.save(path, fmt, transparency=1)
    out = load_image(path)
    _check_rgb(out, 4, 4)
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[1, 1].tolist() == [255, 255, 255]  # the transparent index


def test_palette_without_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (2, 2), 1)
    im.putpalette([0, 0, 0, 10, 20, 30] + [0] * (256 * 3 - 6))
    path = tmp_path / "pal.png"
    im.save(path)
    assert load_image(path)[0, 0].tolist() == [10, 20, 30]


def test_16bit_png_is_scaled_by_bit_depth_not_clipped(tmp_path: Path) -> None:
    arr = np.array([[0, 257 * 100, 65535, 32768]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    assert Image.open(path).mode.startswith("I")
    out = load_image(path)
    _check_rgb(out, 1, 4)
    assert out[0, :, 0].tolist() == [0, 100, 255, 128]
    assert (out[..., 0] == out[..., 2]).all()


def test_mode_I_with_8bit_range_values(tmp_path: Path) -> None:
    im = Image.fromarray(np.array([[0, 100, 255]], dtype=np.int32), mode="I")
    assert load_image(im)[0, :, 0].tolist() == [0, 100, 255]


def test_grayscale_and_bilevel(tmp_path: Path) -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    path = tmp_path / "gray.png"
    Image.fromarray(gray, "L").save(path)
    out = load_image(path)
    _check_rgb(out, 3, 4)
    assert (out == gray[:, :, None]).all()
    bw = Image.new("1", (2, 2), 1)
    assert load_image(bw)[0, 0].tolist() == [255, 255, 255]


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path, quality=95)  # pure red in CMYK
    out = load_image(path)
    _check_rgb(out, 8, 8)
    r, g, b = out[4, 4].tolist()
    assert r > 200 and g < 60 and b < 60


def test_bytes_pil_and_path_sources_agree(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    Image.fromarray(arr).save(path)
    for src in (path, str(path), path.read_bytes(), Image.open(path)):
        assert (load_image(src) == arr).all()


# --------------------------------------------------------------------------- arrays


def test_array_inputs() -> None:
    gray = np.full((2, 3), 7, np.uint8)
    assert load_image(gray).shape == (2, 3, 3)
    assert load_image(gray[:, :, None]).shape == (2, 3, 3)
    assert load_image(np.full((2, 2), 0.5))[0, 0, 0] == 128
    assert load_image(np.full((2, 2), 65535, np.uint16))[0, 0, 0] == 255
    assert load_image(np.ones((2, 2), bool))[0, 0, 0] == 255
    rgba = np.zeros((1, 1, 4), np.uint8)
    assert load_image(rgba)[0, 0].tolist() == [255, 255, 255]
    rgb = np.zeros((4, 5, 3), np.uint8)
    assert load_image(rgb) is rgb  # already canonical: no copy


@pytest.mark.parametrize(
    "arr",
    [
        np.zeros((3, 4, 2), np.uint8),
        np.zeros((3, 4, 5), np.uint8),
        np.zeros((2, 2, 2, 3), np.uint8),
        np.zeros((0, 4), np.uint8),
        np.full((2, 2), 3.0),
        np.full((2, 2), np.nan),
        np.full((2, 2), -1, np.int32),
    ],
)
def test_bad_arrays_raise(arr: np.ndarray) -> None:
    with pytest.raises(ImageReadError):
        load_image(arr)


def test_unsupported_type() -> None:
    with pytest.raises(TypeError):
        load_image(42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- errors


def test_truncated_file(tmp_path: Path) -> None:
    buf = io.BytesIO()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    path = tmp_path / "photo.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageReadError, match=r"cannot read image .*photo\.jpg: not an image or corrupt"):
        load_image(path)


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n")
    with pytest.raises(ImageReadError, match=r"notes\.jpg: not an image or corrupt") as info:
        load_image(path)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match=r"missing\.png: no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="is a directory"):
        load_image(tmp_path)


def test_corrupt_bytes() -> None:
    with pytest.raises(ImageReadError, match="<bytes>: not an image"):
        load_image(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageReadError, match=r"upload\.png"):
        load_image(b"nope", name="upload.png")


# --------------------------------------------------------------------------- list_images


def test_list_images(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for rel in ["z.jpg", "b/y.PNG", "a/deep/x.webp", "a/readme.txt", ".hidden/h.jpg", "a/.dot.jpg"]:
        (tmp_path / rel).write_bytes(b"")
    other = tmp_path / "explicit.dat"
    other.write_bytes(b"")
    found = list_images([tmp_path, other, tmp_path / "z.jpg"])
    rel = [p.relative_to(tmp_path).as_posix() for p in found]
    assert rel == ["a/deep/x.webp", "b/y.PNG", "z.jpg", "explicit.dat"]
    assert list_images(tmp_path / "z.jpg") == [tmp_path / "z.jpg"]
    assert ".jpg" in IMAGE_EXTENSIONS and ".png" in IMAGE_EXTENSIONS


def test_list_images_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        list_images([tmp_path / "nowhere"])
