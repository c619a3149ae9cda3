"""``genfer demo``'s report: each face's ``genfer explain`` overlay is written, referenced and really an overlay."""

import sys

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def two_photos(sample_photo):
    """The demo's composite of two faces and a single-face photo: (name, RGB) pairs."""
    from genfer.demo import side_by_side

    photo = np.asarray(Image.open(sample_photo).convert("RGB"))
    return [("one face", photo), ("two faces", side_by_side([photo, photo[:, ::-1]]))]


def test_report_shows_an_overlay_per_face_that_differs_from_the_crop(tiny_model, two_photos, tmp_path, monkeypatch):
    from genfer.api import Recognizer
    from genfer.demo import run_demo

    monkeypatch.setitem(sys.modules, "pytorch_grad_cam", None)  # genfer's own Grad-CAM++: the package is not needed
    rec = Recognizer(str(tiny_model), backend="torch")
    summary = run_demo(rec, tmp_path, two_photos, extras=[], sections_after=[])
    html = (tmp_path / "report.html").read_text()
    assert [len(p["overlays"]) for p in summary["photos"]] == [len(p["faces"]) for p in summary["photos"]] == [1, 2]
    assert "Where the recognizer looked: grad-cam++" in html
    for k, (photo, (_, image)) in enumerate(zip(summary["photos"], two_photos)):
        _, crops = next(rec.iter_faces([image]))
        for n, (path, crop) in enumerate(zip(photo["overlays"], crops), 1):
            assert path == str(tmp_path / "explain" / f"demo_{k:02d}-face{n}.png")
            assert f"src='explain/demo_{k:02d}-face{n}.png'" in html
            with Image.open(path) as im:
                overlay = np.asarray(im.convert("RGB"), dtype=np.float32)
            side = overlay.shape[1]
            assert overlay.shape[0] > side  # the caption bar below the face
            plain = np.asarray(Image.fromarray(crop).convert("RGB").resize((side, side), Image.BILINEAR), np.float32)
            assert np.abs(overlay[:side] - plain).mean() > 10  # the saliency colours are blended in
    face = summary["photos"][0]["faces"][0]
    assert f"face 1: {face} " in html  # the overlay's label (alt text) is the recognised one


def test_demo_without_explain_writes_no_overlays(tiny_model, two_photos, tmp_path):
    from genfer.api import Recognizer
    from genfer.demo import run_demo

    summary = run_demo(Recognizer(str(tiny_model), backend="torch"), tmp_path, two_photos[:1], extras=[],
                       sections_after=[], explain=False)
    assert summary["photos"][0]["overlays"] == [] and not (tmp_path / "explain").exists()
    assert "Where the recognizer looked" not in (tmp_path / "report.html").read_text()


def test_labelled_tiles_put_each_caption_under_its_enlarged_image():
    from report_helpers import figure_image, report_figures

    from genfer.render import TILE_SIDE, labelled_tiles

    gray = np.arange(48 * 48, dtype=np.uint8).reshape(48, 48)
    rgb = np.zeros((64, 64, 3), np.uint8)
    page = labelled_tiles([(gray, "input (aligned 48 px)\nread as <neutral> 0.90"), (rgb, "x̂ & co"),
                           ("explain/a b.png", "overlay")])
    (src1, cap1), (src2, cap2), (src3, cap3) = report_figures(page)
    assert (cap1, cap2, cap3) == ("input (aligned 48 px)\nread as <neutral> 0.90", "x̂ & co", "overlay")
    assert "read as &lt;neutral&gt; 0.90</figcaption>" in page and "<br>" in page  # escaped, one line each
    big = figure_image(src1)
    assert big.shape == (3 * 48, 3 * 48) and TILE_SIDE == 144  # 48 px crops enlarged 3 times (nearest)
    assert np.array_equal(big[::3, ::3], gray) and np.array_equal(big[2::3, 2::3], gray)
    assert figure_image(src2).shape == (192, 192, 3)  # 64 px: the smallest integer factor reaching 144 px
    assert src3 == "explain/a b.png"  # a file's URL is used as it is


def test_demo_report_captions_the_overlays_and_passes_the_refine_steps(tiny_model, two_photos, tmp_path,
                                                                       monkeypatch):
    from report_helpers import report_figures

    from genfer import demo
    from genfer.api import Recognizer

    asked = []
    monkeypatch.setattr(demo, "shipped_extras", lambda rec, refine_steps: asked.append((rec, refine_steps)) or ([], []))
    rec = Recognizer(str(tiny_model), backend="torch")
    summary = demo.run_demo(rec, tmp_path, two_photos[1:], refine_steps=7)
    assert asked == [(rec, 7)]  # the shipped rows get the demo's recognizer (to read generated faces) and --refine
    figures = report_figures((tmp_path / "report.html").read_text())
    labels = summary["photos"][0]["faces"]
    assert [src for src, _ in figures] == [f"explain/demo_00-face{n}.png" for n in (1, 2)]
    for n, ((_, caption), label) in enumerate(zip(figures, labels), 1):
        assert caption.startswith(f"face {n}: {label} ") and caption.endswith("saliency over the input (48 px)")


def test_the_inversion_row_takes_psp_refined_then_hyperstyle_then_asit_when_shipped(monkeypatch):
    """The demo's inversion row: pSp, pSp refined, then every other shipped encoder in a fixed order."""
    from genfer import demo, hub
    from genfer.inversion import faces, load

    shipped = ["psp-gray64", "hyperstyle-gray64", "asit-gray64"]
    monkeypatch.setattr(hub, "available_models", lambda: shipped)
    monkeypatch.setattr(demo, "shipped_directions", lambda model: False)
    monkeypatch.setattr(load, "load_gan", lambda name: f"gan:{name}")
    monkeypatch.setattr(faces, "FaceInverter", lambda gan, refine_steps=0: (gan, refine_steps))
    rows_given = []
    monkeypatch.setattr(demo, "inversion_extra", lambda inverters, rec: rows_given.append(inverters) or "row")
    rows, _ = demo.shipped_extras(None, refine_steps=5)
    assert rows == ["row"]
    assert rows_given == [[("gan:psp-gray64", 0), ("gan:psp-gray64", 5), ("gan:hyperstyle-gray64", 0),
                           ("gan:asit-gray64", 0)]]
    shipped[:] = ["asit-gray64"]
    rows_given.clear()
    demo.shipped_extras(None, refine_steps=5)
    assert rows_given == [[("gan:asit-gray64", 0)]]
