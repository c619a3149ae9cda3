"""``genfer serve``'s /explain and /edit: their answers are ``genfer explain --json`` / ``genfer edit --json``
results (files inline), bad uploads and bad form values get 4xx, /edit is 404 without ``--directions``."""

from __future__ import annotations

import base64
import io
import json
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import assert_user_error, run_cli
from serve_helpers import photo_file, services  # noqa: F401 - fixtures

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from genfer.serve.app import create_app  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

EDIT = {"emotion": "happiness", "strength": "2"}


@pytest.fixture(scope="module")
def client(services):  # noqa: F811
    with TestClient(create_app(services)) as c:
        yield c


@pytest.fixture(scope="module")
def directions(tmp_path_factory):
    """Directions of the shipped pSp's generator, fitted on 32 samples (a few seconds)."""
    folder = tmp_path_factory.mktemp("directions") / "d"
    from genfer.cli import main

    code = main(["directions", "fit", "--samples", "32", "--batch-size", "32", "--out", str(folder), "--quiet",
                 "--threads", "1"])
    assert code == 0
    return folder


@pytest.fixture(scope="module")
def edit_client(directions):
    from genfer.serve.services import ServedModels, Services

    served = Services(ServedModels(neutralize=None, transfer=None, invert=None, directions=str(directions)))
    with TestClient(create_app(served)) as c:  # loads the recognizer and the editor (pSp, the directions)
        yield c


def upload(path):
    return {"image": (path.name, path.read_bytes())}


def inline(uri: str, kind: str = "image/png") -> bytes:
    head, data = uri.split(",", 1)
    assert head == f"data:{kind};base64"
    return base64.b64decode(data)


def png_pixels(data: bytes | str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data) if isinstance(data, bytes) else data))


def test_explain_is_the_cli_result_with_inline_overlays(client, photo_file, capsys, tmp_path):  # noqa: F811
    code, out, _ = run_cli(capsys, "explain", str(photo_file), "--out", str(tmp_path), "--json")
    assert code == 0
    expected = json.loads(out)["results"][0]
    answer = client.post("/explain", files=upload(photo_file))
    assert answer.status_code == 200
    got = answer.json()
    assert len(got["faces"]) == len(expected["faces"]) == 1
    for face, want in zip(got["faces"], expected["faces"]):
        assert np.array_equal(png_pixels(inline(face.pop("overlay"))), png_pixels(want.pop("overlay")))
    expected["path"] = photo_file.name
    assert got == expected  # label, probability, method, box, error


def test_edit_is_the_cli_result_with_inline_files(edit_client, directions, photo_file, capsys, tmp_path):  # noqa: F811
    code, out, _ = run_cli(capsys, "edit", str(photo_file), "--emotion", "happiness", "--strength", "2", "--sweep",
                           "--out", str(tmp_path), "--directions", str(directions), "--json", "--threads", "1")
    assert code == 0
    expected = json.loads(out)["results"][0]
    answer = edit_client.post("/edit", files=upload(photo_file),
                              data={**EDIT, "sweep": "true"})
    assert answer.status_code == 200
    got = answer.json()
    assert len(got["faces"]) == len(expected["faces"]) == 1
    face, want = got["faces"][0], expected["faces"][0]
    assert set(face) == set(want)
    for key in ("edited", "sweep"):
        assert np.array_equal(png_pixels(inline(face.pop(key))), png_pixels(want.pop(key)))
    for key in ("latent", "input_latent"):
        latent = np.load(io.BytesIO(inline(face.pop(key), "application/x-npy")))
        assert latent.dtype == np.float32 and latent.shape == (10, 128)
        np.testing.assert_allclose(latent, np.load(want.pop(key)), atol=1e-5)
    expected["path"] = photo_file.name
    assert got == expected and face["strengths"] == [0.0, 0.5, 1.0, 1.5, 2.0]  # box, source, recognized, error
    plain = edit_client.post("/edit", files=upload(photo_file), data=EDIT).json()
    assert plain["faces"][0]["sweep"] is None and plain["faces"][0]["strengths"] == [2.0]
    assert plain["faces"][0]["recognized"] == face["recognized"]  # the last strength is the same edit


@pytest.mark.parametrize("route", ["/explain", "/edit"])
@pytest.mark.parametrize(("name", "status"), [("empty.jpg", 415), ("notes.txt", 415), ("cut.png", 400)])
def test_bad_uploads_get_the_same_answers_as_recognize(client, edit_client, photo_file, route, name,  # noqa: F811
                                                       status):
    cut = photo_file.read_bytes()[:3000]  # a PNG's start: sniffs as an image, does not decode
    data = {"empty.jpg": b"", "notes.txt": b"not a picture"}.get(name, cut)
    want = client.post("/recognize", files={"image": (name, data)})
    answer = (edit_client if route == "/edit" else client).post(route, files={"image": (name, data)},
                                                                data=EDIT if route == "/edit" else None)
    assert (answer.status_code, answer.json()) == (want.status_code, want.json())
    assert want.status_code == status and want.json()["error"] == f"cannot read image {name}: not an image or corrupt"


def test_edit_without_directions_is_404_and_health_lists_the_tasks(client, edit_client, photo_file):  # noqa: F811
    answer = client.post("/edit", files=upload(photo_file), data=EDIT)
    assert answer.status_code == 404
    assert answer.json()["error"].startswith("no emotion directions loaded: start genfer serve with --directions DIR")
    assert client.get("/health").json()["tasks"] == ["recognize", "explain", "neutralize", "transfer", "invert"]
    health = edit_client.get("/health").json()
    assert health["tasks"] == ["recognize", "explain", "edit"] and health["models"]["edit"].endswith("d")
    paths = client.get("/openapi.json").json()["paths"]
    assert "genfer explain --json" in paths["/explain"]["post"]["summary"]
    assert "genfer edit --json" in paths["/edit"]["post"]["summary"]


@pytest.mark.parametrize(("fields", "message"), [
    ({"emotion": "joy", "strength": "1"},
     "unknown emotion 'joy'; choose one of neutral, happiness, surprise, sadness, anger, disgust, fear, contempt"),
    ({"emotion": "fear", "strength": "nan"}, "strength must be a finite number, not nan"),
    ({"emotion": "fear", "strength": "inf"}, "strength must be a finite number, not inf"),
    ({"emotion": "fear", "strength": "a lot"}, "bad request: strength: "),
    ({"strength": "1"}, "missing multipart field(s): emotion"),
])
def test_edit_rejects_bad_emotion_and_strength_with_400(edit_client, photo_file, fields, message):  # noqa: F811
    answer = edit_client.post("/edit", files=upload(photo_file), data=fields)
    assert answer.status_code == 400 and answer.json()["error"].startswith(message)


def test_explain_serves_a_resnet_without_the_grad_cam_package(services, photo_file, monkeypatch):  # noqa: F811
    from genfer.serve.services import ServedModels, Services

    monkeypatch.setitem(sys.modules, "pytorch_grad_cam", None)  # the import fails as if not installed
    only = Services(ServedModels(neutralize=None, transfer=None, invert=None))
    only._recognizer = services._recognizer  # share the loaded recognizer (the default ResNet): no second load
    with TestClient(create_app(only)) as c:
        assert c.get("/health").json()["tasks"] == ["recognize", "explain"]
        answer = c.post("/explain", files=upload(photo_file))
    assert answer.status_code == 200, answer.text
    face = answer.json()["faces"][0]
    assert face["method"] == "grad-cam++" and png_pixels(inline(face["overlay"])).shape[1] == 192


def test_serve_refuses_a_folder_that_is_not_a_directions_folder(capsys, tmp_path):
    code, _, err = run_cli(capsys, "serve", "--directions", str(tmp_path))
    assert_user_error(code, err, f"{tmp_path} is not a directions folder", "genfer directions fit")


def test_serve_finds_the_directions_shipped_beside_the_invert_model(tmp_path):
    from genfer.commands.serve import _directions
    from genfer.hub import find_model_folder
    from genfer.inversion import DEFAULT_GAN

    shipped = find_model_folder(DEFAULT_GAN) / "directions"
    assert _directions("auto", DEFAULT_GAN) == str(shipped) and (shipped / "directions.json").is_file()
    assert _directions("auto", None) == str(shipped)  # /edit inverts with pSp when /invert is off
    assert _directions("AUTO", str(tmp_path)) is None  # not a model folder: /edit not served
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "directions").mkdir()  # a model folder whose directions/ holds no directions card
    assert _directions("auto", str(tmp_path)) is None
    assert _directions("auto", "hyperstyle") == str(shipped)  # found through the config's inverter (pSp) ...
    assert _directions("auto", "asit") == str(shipped)  # ... or generator (a shipped pSp model)
    assert _directions("none", DEFAULT_GAN) is None
