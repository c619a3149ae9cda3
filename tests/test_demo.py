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
