"""The web page of ``genfer serve`` in a real headless Chromium (Playwright driving the system's browser).

Runs when Playwright imports and a Chromium is found (``GENFER_CHROMIUM``, or ``chromium`` /
``chromium-browser`` / ``google-chrome`` on PATH; Debian: ``apt-get install -y chromium``); skipped otherwise.
"""

from __future__ import annotations

import os
import shutil

import pytest

from serve_helpers import sample_uploads, services  # noqa: F401 - services: a fixture

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("GENFER_CHROMIUM") or next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
if CHROMIUM is None:
    pytest.skip("no Chromium (apt-get install -y chromium, or set GENFER_CHROMIUM)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

from genfer.faces.io import load_image  # noqa: E402
from genfer.serve.app import create_app  # noqa: E402
from genfer.serve.background import BackgroundServer  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[  # --no-sandbox: CI runs as root
            "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(services):  # noqa: F811
    with BackgroundServer(create_app(services)) as s:
        yield s


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(server.url + "/")
    yield page
    page.close()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads")
    uploads = sample_uploads()
    for name, data in (uploads[0], uploads[4]):
        (folder / name).write_bytes(data)
    return folder / uploads[0][0], folder / uploads[4][0]


def natural_width(page, selector: str) -> int:
    page.wait_for_function(f"document.querySelector('{selector}') && document.querySelector('{selector}').complete "
                           f"&& document.querySelector('{selector}').naturalWidth > 0")
    return page.eval_on_selector(selector, "img => img.naturalWidth")


def test_photo_boxes_labels_bars_poker_face_inversion_and_transfer(page, photos, services):  # noqa: F811
    first, second = photos
    expected = services.recognize(load_image(first), first.name)
    page.set_input_files("#file", str(first))
    page.wait_for_selector(".box .label")
    face = expected["faces"][0]
    assert page.locator(".box .label").all_inner_texts() == [
        f"1: {face['label']} {face['probabilities'][face['label']]:.2f}"]
    assert page.locator(".face-card .face-label").all_inner_texts() == [f"face 1: {face['label']}"]
    assert page.locator(".face-card .bar").count() == len(face["probabilities"])
    assert page.locator(".dot").count() == len(face["landmarks"])
    # the box sits where the API put it, in the displayed image's scale
    img = page.locator("#photo-img").bounding_box()
    box = page.locator(".box").bounding_box()
    scale = img["width"] / page.eval_on_selector("#photo-img", "i => i.naturalWidth")
    assert abs(box["x"] - img["x"] - face["box"][0] * scale) < 2
    assert abs(box["width"] - face["box"][2] * scale) < 2
    assert natural_width(page, "img.overlay") == 192  # the saliency overlay (/explain)
    assert natural_width(page, "img.poker-face") == 48
    assert natural_width(page, "img.inversion") == 64

    page.set_input_files("#file2", str(second))
    assert natural_width(page, "#transfer-result img.source_with_reference_expression") == 48
    assert natural_width(page, "#transfer-result img.reference_with_source_expression") == 48
    captions = page.locator("#transfer-result figure").all_inner_texts()
    assert "photo 1 with photo 2's expression" in captions[0] and "reads as" in captions[0]
    assert page.inner_text("#error") == ""


def test_a_file_that_is_not_an_image_shows_the_cli_message(page, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    page.set_input_files("#file", str(notes))
    page.wait_for_function("document.getElementById('error').textContent.length > 0")
    assert page.inner_text("#error") == "cannot read image notes.txt: not an image or corrupt"


def test_a_webcam_frame_goes_through_the_api(page):
    page.click("#webcam")  # Chromium's fake camera: a test pattern without a face
    page.wait_for_function("document.getElementById('video').videoWidth > 0")
    page.click("#snap")
    page.wait_for_selector("#faces .error")
    assert page.inner_text("#faces .error") == "no face found"
    assert page.eval_on_selector("#photo-img", "i => i.naturalWidth") > 0
