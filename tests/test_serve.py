"""``genfer serve``: the API's answers are the CLI's --json results; bad uploads get 4xx; concurrency."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from conftest import assert_user_error, run_cli
from serve_helpers import photo_file, png_bytes, sample_uploads, services  # noqa: F401 - fixtures

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from genfer.serve.app import create_app  # noqa: E402
from genfer.serve.background import BackgroundServer  # noqa: E402
from genfer.serve.uploads import sniff_image_type  # noqa: E402


@pytest.fixture(scope="module")
def client(services):  # noqa: F811
    with TestClient(create_app(services, max_upload_bytes=2**20, max_pixels=4_000_000)) as c:
        yield c


def post(client, route, path):
    return client.post(route, files={"image": (path.name, path.read_bytes(), "image/png")})


def decode_png(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def test_recognize_is_the_cli_result(client, photo_file, capsys):  # noqa: F811
    code, out, _ = run_cli(capsys, "recognize", str(photo_file), "--json")
    assert code == 0
    expected = json.loads(out)["results"][0]
    expected["path"] = photo_file.name
    answer = post(client, "/recognize", photo_file)
    assert answer.status_code == 200
    assert answer.json() == expected
    assert len(expected["faces"]) == 1


def test_neutralize_is_the_cli_result_with_inline_pngs(client, photo_file, capsys, tmp_path):  # noqa: F811
    code, out, _ = run_cli(capsys, "neutralize", str(photo_file), "--out", str(tmp_path), "--json")
    assert code == 0
    expected = json.loads(out)["results"][0]
    answer = post(client, "/neutralize", photo_file).json()
    for got, want in zip(answer["faces"], expected["faces"]):
        written = np.asarray(Image.open(want.pop("poker_face")))
        assert np.array_equal(decode_png(got.pop("poker_face")), written)
    expected["path"] = photo_file.name
    assert answer == expected


def test_invert_is_the_cli_result_with_inline_files(client, photo_file, capsys, tmp_path):  # noqa: F811
    code, out, _ = run_cli(capsys, "invert", str(photo_file), "--out", str(tmp_path), "--json")
    assert code == 0
    expected = json.loads(out)["results"][0]
    answer = post(client, "/invert", photo_file).json()
    assert len(answer["faces"]) == len(expected["faces"]) == 1
    got, want = answer["faces"][0], expected["faces"][0]
    assert np.array_equal(decode_png(got["reconstruction"]), np.asarray(Image.open(want["reconstruction"])))
    latent = np.load(io.BytesIO(base64.b64decode(got["latent"].split(",", 1)[1])))
    np.testing.assert_allclose(latent, np.load(want["latent"]), atol=1e-5)
    assert got["box"] == want["box"] and got["source"] == want["source"] and answer["error"] == expected["error"]


def test_transfer_is_the_cli_result_with_inline_pngs(client, capsys, tmp_path):
    (a_name, a), (b_name, b) = sample_uploads()[0], sample_uploads()[4]
    (tmp_path / a_name).write_bytes(a)
    (tmp_path / b_name).write_bytes(b)
    code, out, _ = run_cli(capsys, "transfer", str(tmp_path / a_name), str(tmp_path / b_name), "--out",
                           str(tmp_path / "out"), "--json")
    assert code == 0
    expected = json.loads(out)["results"][0]
    answer = client.post("/transfer", files={"source": (a_name, a), "reference": (b_name, b)}).json()
    for key, path in expected["outputs"].items():
        assert np.array_equal(decode_png(answer["outputs"][key]), np.asarray(Image.open(path)))
    assert np.array_equal(decode_png(answer["grid"]), np.asarray(Image.open(expected["grid"])))
    for record in (answer, expected):
        record.pop("outputs"), record.pop("grid")
    expected["source"], expected["reference"] = a_name, b_name
    assert answer == expected


def test_transfer_error_names_the_upload_not_the_temporary_file(client):
    blank = png_bytes(np.full((200, 300, 3), 128, np.uint8))
    answer = client.post("/transfer", files={"source": ("blank.png", blank), "reference": ("b.png", blank)}).json()
    assert answer["error"] == "no face found in blank.png"


def test_models_is_the_cli_document(client, capsys):
    code, out, _ = run_cli(capsys, "models", "--json")
    assert code == 0
    assert client.get("/models").json() == json.loads(out)


def test_health_page_static_and_openapi(client):
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert set(health.json()["tasks"]) == {"recognize", "explain", "neutralize", "transfer", "invert"}
    assert "<script src=\"/static/app.js\">" in client.get("/").text
    assert client.get("/static/app.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/recognize", "/neutralize", "/transfer", "/invert", "/models", "/health"} <= set(paths)
    assert "multipart/form-data" in paths["/recognize"]["post"]["requestBody"]["content"]


@pytest.mark.parametrize(("name", "data", "status", "message"), [
    ("empty.jpg", b"", 415, "cannot read image empty.jpg: not an image or corrupt"),
    ("notes.txt", b"just some text, not a picture", 415, "cannot read image notes.txt: not an image or corrupt"),
    ("cut.png", None, 400, "cannot read image cut.png: not an image or corrupt"),
])
def test_bad_uploads_get_the_cli_message(client, capsys, tmp_path, name, data, status, message):
    if data is None:  # a PNG cut in half: sniffs as an image, does not decode
        full = sample_uploads()[0][1]
        data = full[: len(full) // 2]
    answer = client.post("/recognize", files={"image": (name, data)})
    assert (answer.status_code, answer.json()) == (status, {"error": message})
    (tmp_path / name).write_bytes(data)  # the CLI says the same of the same file
    code, out, _ = run_cli(capsys, "recognize", str(tmp_path / name), "--json")
    assert code == 2 and json.loads(out)["results"][0]["error"] == message.replace(name, str(tmp_path / name))


def test_too_many_bytes_get_413_declared_or_chunked(client):
    big = b"\x89PNG\r\n\x1a\n" + bytes(3 * 2**20)
    answer = client.post("/recognize", files={"image": ("big.png", big)})
    assert answer.status_code == 413 and answer.json()["error"].startswith("upload too large: ")

    def chunks():  # no Content-Length: counted as it arrives
        yield b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.png\"\r\n\r\n"
        for _ in range(24):
            yield bytes(2**17)
        yield b"\r\n--b--\r\n"

    answer = client.post("/recognize", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert answer.status_code == 413 and "more than 1048576 bytes" in answer.json()["error"]
    assert post_ok(client)


def post_ok(client) -> bool:
    name, data = sample_uploads()[0]
    return client.post("/recognize", files={"image": (name, data)}).status_code == 200


def test_huge_image_gets_413_before_decoding(client):
    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, format="PNG")  # 400 Mpx, a few kB on the wire
    answer = client.post("/recognize", files={"image": ("huge.png", buf.getvalue())})
    assert answer.status_code == 413
    assert answer.json()["error"] == ("cannot read image huge.png: too large (400000000 pixels; this server reads at "
                                      "most 4000000)")
    buf = io.BytesIO()
    Image.new("1", (2500, 2000)).save(buf, format="PNG")  # 5 Mpx: over this server's limit, under PIL's
    answer = client.post("/recognize", files={"image": ("big.png", buf.getvalue())})
    assert answer.status_code == 413 and "(5000000 pixels;" in answer.json()["error"]
    assert post_ok(client)


def test_missing_field_and_no_face(client):
    answer = client.post("/recognize", files={"photo": ("a.png", sample_uploads()[0][1])})
    assert answer.status_code == 400 and "image" in answer.json()["error"]
    blank = client.post("/recognize", files={"image": ("blank.png", png_bytes(np.zeros((100, 160, 3), np.uint8)))})
    assert blank.status_code == 200 and blank.json() == {"path": "blank.png", "faces": [], "error": "no face found"}


def test_sniffing():
    assert sniff_image_type(b"\xff\xd8\xff\xe0") == "jpeg"
    assert sniff_image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff_image_type(b"<html>") is None and sniff_image_type(b"") is None


def test_unserved_task_is_404(services):  # noqa: F811
    from genfer.serve.services import ServedModels, Services

    only = Services(ServedModels(neutralize=None, transfer=None, invert=None))
    only._recognizer = services._recognizer  # share the loaded recognizer: no second load
    with TestClient(create_app(only)) as c:
        assert c.get("/health").json()["tasks"] == ["recognize", "explain"]  # explain runs on the recognizer
        answer = c.post("/neutralize", files={"image": sample_uploads()[0]})
        assert answer.status_code == 404 and "does not serve neutralize" in answer.json()["error"]


def _post_multipart(url: str, name: str, data: bytes) -> dict:
    boundary = "genferboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def test_sixteen_concurrent_clients_get_their_own_answers(services):  # noqa: F811
    uploads = sample_uploads()
    with BackgroundServer(create_app(services)) as server:
        alone = {name: _post_multipart(server.url + "/recognize", name, data) for name, data in uploads}
        assert len({json.dumps(a["faces"]) for a in alone.values()}) == len(uploads)  # all answers differ
        jobs = [uploads[i % len(uploads)] for i in range(32)]
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda job: _post_multipart(server.url + "/recognize", *job), jobs))
    for (name, _), answer in zip(jobs, answers):
        assert answer == alone[name]


def test_health_answers_while_a_slow_request_computes(services, monkeypatch):  # noqa: F811
    started = threading.Event()
    slow = services.recognize

    def slow_recognize(image, name):
        started.set()
        time.sleep(3)
        return slow(image, name)

    monkeypatch.setattr(services, "recognize", slow_recognize)
    with BackgroundServer(create_app(services)) as server:
        name, data = sample_uploads()[0]
        request = threading.Thread(target=_post_multipart, args=(server.url + "/recognize", name, data))
        request.start()
        assert started.wait(30)
        t0 = time.perf_counter()
        with urllib.request.urlopen(server.url + "/health", timeout=10) as response:
            assert response.status == 200
        assert time.perf_counter() - t0 < 1.0
        request.join()


def test_serve_command_user_errors(capsys):
    assert_user_error(*run_cli(capsys, "serve", "--port", "0")[::2], "--port")
    assert_user_error(*run_cli(capsys, "serve", "--max-upload-mb", "0")[::2], "--max-upload-mb")
