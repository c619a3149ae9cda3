"""Batched ``neutralize`` / ``transfer`` / ``invert``: the same results as one face at a time, in input order, an
unreadable input in the middle of a batch reported without breaking the others, ``--jsonl`` streaming, and the
background writes (every file written, errors surfacing). Shipped models: ``pfvit``, ``switchgan``, ``psp-gray64``."""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genfer.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

N_FACES = 6
BROKEN_AT = 2  # the unreadable image's place among the inputs (inside the first batch of 3)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    """Six aligned 48 px faces (FER2013Valid's first when the shared data is there, else smooth synthetic faces)
    with an unreadable file among them."""
    folder = tmp_path_factory.mktemp("batching-faces")
    root = Path(os.environ.get("GENFER_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    if (root / "ferplus" / "FER2013Valid").is_dir():
        from genfer.data.registry import open_dataset

        ds = open_dataset("ferplus", root / "ferplus", "valid")
        images = [np.asarray(ds.loader(i).convert("L")) for i in range(N_FACES)]
    else:
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[:48, :48]
        images = [np.clip(120 + 60 * np.sin(xx / (4 + k)) * np.cos(yy / (5 + k)) + rng.normal(0, 8, (48, 48)), 0, 255)
                  .astype(np.uint8) for k in range(N_FACES)]
    paths = []
    for k, img in enumerate(images):
        paths.append(folder / f"face{k}.png")
        Image.fromarray(img).save(paths[-1])
    broken = folder / "broken.png"
    broken.write_bytes(b"not an image")
    return paths[:BROKEN_AT] + [broken] + paths[BROKEN_AT:]


def good(inputs):
    return [p for p in inputs if p.name != "broken.png"]


def assert_images_close(a, b, tol=1):
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).max() <= tol  # float rounding of a different batch shape


# ----------------------------------------------------------------------------- the APIs


@pytest.fixture(scope="module")
def neutralizer():
    from genfer.pipelines.neutralize import Neutralizer

    return Neutralizer("pfvit", batch_size=3)


def test_neutralizer_batches_match_one_face_at_a_time(neutralizer, inputs):
    from genfer.io.images import to_tensor

    results = list(neutralizer.iter_neutralize(inputs, aligned=True))
    assert [r.path for r, _ in results] == [str(p) for p in inputs]  # input order
    broken, _ = results[BROKEN_AT]
    assert not broken.readable and broken.error and broken.faces == []
    for (res, faces), path in zip([r for k, r in enumerate(results) if k != BROKEN_AT], good(inputs)):
        assert res.error is None and len(res.faces) == len(faces) == 1
        alone = neutralizer.recognizer.predict([path], aligned=True)[0].faces[0]  # the recognizer's own path
        assert res.faces[0].label == alone.label
        assert np.allclose(list(res.faces[0].probabilities.values()), list(alone.probabilities.values()), atol=1e-5)
        with torch.inference_mode():
            images = neutralizer.model.render(to_tensor(faces[0].aligned[None]))  # this face alone
        assert_images_close(faces[0].poker_face, to_tensor_uint8(images["x_tilde"]))
        assert_images_close(faces[0].reconstruction, to_tensor_uint8(images["x_hat"]))
        assert_images_close(faces[0].emotion, to_tensor_uint8(images["x_emo"]))
    poker_only = list(neutralizer.iter_neutralize(inputs, aligned=True, poker_only=True))
    for (_, a), (_, b) in zip(results, poker_only):
        assert [f.poker_face.tobytes() for f in a] == [f.poker_face.tobytes() for f in b]
        assert all(f.reconstruction is None and f.emotion is None for f in b)


def to_tensor_uint8(images):
    from genfer.io.images import to_uint8

    return to_uint8(images)[0]


def test_transfer_batches_match_one_pair_at_a_time(inputs):
    from genfer.io.images import to_tensor, to_uint8
    from genfer.pipelines.transfer import OUTPUT_KEYS, ExpressionTransfer

    tr = ExpressionTransfer("switchgan", batch_size=2)
    faces = good(inputs)
    pairs = [(faces[0], faces[1]), (faces[2], inputs[BROKEN_AT]), (faces[3], faces[0]), (faces[4], faces[2]),
             (faces[1], faces[3])]
    results = list(tr.iter_transfer(pairs, aligned=True))
    assert [(r.source, r.reference) for r in results] == [(str(s), str(r)) for s, r in pairs]
    assert not results[1].readable and results[1].error and results[1].images == {}
    model = tr.loaded.model
    for res, (source, reference) in zip(results, pairs):
        if res is results[1]:
            continue
        crops = [tr.face(source, aligned=True)[0], tr.face(reference, aligned=True)[0]]
        x = to_tensor(np.stack(crops))
        with torch.no_grad():  # the one-pair path: C on the two faces, G's full forward on the pair
            y = model.classify(x).argmax(1)
            out = model.generator(x[:1], x[1:], y[:1], y[1:])
        alone = to_uint8(torch.cat([out.image_c, out.image_d]))
        assert res.expressions == {"source": tr.classes[int(y[0])], "reference": tr.classes[int(y[1])]}
        for key, img in zip(OUTPUT_KEYS, alone):
            assert_images_close(res.images[key], img)
        probs = tr.recognizer.predict_crops(alone)
        assert [res.recognized[k]["label"] for k in OUTPUT_KEYS] == [tr.recognizer.classes[int(p.argmax())]
                                                                     for p in probs]
    single = tr.transfer(*pairs[3], aligned=True)  # the one-pair API
    assert single.expressions == results[3].expressions and single.recognized == results[3].recognized


def test_inverter_batches_match_one_face_at_a_time(inputs):
    from genfer.inversion.faces import FaceInverter
    from genfer.inversion.load import load_gan

    inv = FaceInverter(load_gan("psp-gray64"), batch_size=3)
    results = list(inv.iter_invert(inputs, aligned=True))
    assert [r.path for r in results] == [str(p) for p in inputs]
    assert not results[BROKEN_AT].readable and results[BROKEN_AT].error and results[BROKEN_AT].faces == []
    for res in [r for k, r in enumerate(results) if k != BROKEN_AT]:
        assert res.error is None and len(res.faces) == 1
        face = res.faces[0]
        recon, code = inv.invert_crops(face.aligned[None])[0]  # this face alone
        assert_images_close(face.reconstruction, recon)
        assert np.allclose(face.wplus, code, atol=1e-4)


def test_pipelines_reject_bad_batch_sizes_and_precisions():
    from genfer.pipelines.neutralize import Neutralizer

    with pytest.raises(ValueError, match="batch size"):
        Neutralizer("pfvit", batch_size=0)
    with pytest.raises(ValueError, match="precision"):
        Neutralizer("pfvit", precision="float16")


# ----------------------------------------------------------------------------- the commands


def pairs_csv(inputs, path: Path) -> Path:
    faces = good(inputs)
    rows = [(faces[0], faces[1]), (faces[2], inputs[BROKEN_AT]), (faces[3], faces[0]), (faces[4], faces[2]),
            (faces[1], faces[3]), (faces[2], faces[4])]
    path.write_text("source,reference\n" + "".join(f"{s},{r}\n" for s, r in rows))
    return path


COMMANDS = {  # argv after the command, the batch function to spy on, how many results
    "neutralize": ("genfer.pipelines.neutralize:Neutralizer", "_run"),
    "transfer": ("genfer.models.switchgan:SwitchGenerator", "exchange"),
    "invert": ("genfer.inversion.faces:FaceInverter", "invert_crops"),
}


def command_argv(command, inputs, tmp_path):
    if command == "transfer":
        return [command, "--pairs", str(pairs_csv(inputs, tmp_path / "pairs.csv"))]
    return [command, *map(str, inputs)]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_jsonl_streams_one_line_per_input_in_order(command, inputs, tmp_path, capsys, monkeypatch):
    from genfer.commands._common import import_ref

    owner, name = COMMANDS[command]
    cls = import_ref(owner)
    real = getattr(cls, name)
    printed_before_batch: list[str] = []

    def spy(self, *args, **kwargs):
        if printed_before_batch:  # a later batch: wait (bounded) until earlier inputs' lines are out
            seen, deadline = "", time.monotonic() + 10
            while not seen and time.monotonic() < deadline:
                seen = capsys.readouterr().out
                time.sleep(0.01)
            printed_before_batch.append(seen)
        else:
            printed_before_batch.append(capsys.readouterr().out)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, spy)
    code = main([*command_argv(command, inputs, tmp_path), "--aligned", "--out", str(tmp_path / "out"), "--jsonl",
                 "--batch-size", "2"])
    out = "".join(printed_before_batch) + capsys.readouterr().out
    items = [json.loads(line) for line in out.splitlines()]
    assert code == 2  # the unreadable image (exit code 2 as documented); every other input is done
    assert len(printed_before_batch) >= 3 and printed_before_batch[0] == ""
    assert any(printed_before_batch[1:])  # lines came out before the last batch ran: streaming
    if command == "transfer":
        assert len(items) == 6 and [i["error"] is None for i in items] == [True, False, True, True, True, True]
        files = [p for i in items if i["error"] is None for p in [*i["outputs"].values(), i["grid"]]]
    else:
        assert [i["path"] for i in items] == [str(p) for p in inputs]  # one line per input, in input order
        assert [i["error"] is None for i in items] == [k != BROKEN_AT for k in range(len(inputs))]
        keys = ("poker_face",) if command == "neutralize" else ("aligned", "reconstruction", "latent")
        files = [f[k] for i in items for f in i["faces"] for k in keys]
    assert files and all(Path(f).is_file() for f in files)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_json_batched_equals_one_at_a_time(command, inputs, tmp_path, capsys):
    runs = []
    for batch in ("1", "64"):
        code = main([*command_argv(command, inputs, tmp_path), "--aligned", "--out", str(tmp_path / batch), "--json",
                     "--batch-size", batch, "--progress"])
        out, err = capsys.readouterr()
        assert code == 2 and "it/s" not in out and ("img" in err or "pair" in err)  # the bar is on stderr only
        runs.append(json.loads(out))
    a, b = runs
    assert (a["n"], a["errors"], a["unreadable"]) == (b["n"], b["errors"], b["unreadable"])
    for ra, rb in zip(a["results"], b["results"]):
        assert ra.keys() == rb.keys() and ra["error"] == rb["error"]
        if command == "neutralize":
            assert [f["label"] for f in ra["faces"]] == [f["label"] for f in rb["faces"]]
            pngs = [(fa["poker_face"], fb["poker_face"]) for fa, fb in zip(ra["faces"], rb["faces"])]
        elif command == "transfer":
            assert ra["expressions"] == rb["expressions"]
            assert {k: v["label"] for k, v in ra["recognized"].items()} == \
                {k: v["label"] for k, v in rb["recognized"].items()}
            pngs = [(ra["grid"], rb["grid"])] if ra["grid"] else []
        else:
            pngs = [(fa["reconstruction"], fb["reconstruction"]) for fa, fb in zip(ra["faces"], rb["faces"])]
        for pa, pb in pngs:
            assert_images_close(np.asarray(Image.open(pa)), np.asarray(Image.open(pb)))


def test_cli_failed_background_write_surfaces(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "face3_face1_poker.png").mkdir(parents=True)  # a folder where a PNG must go: that write fails
    with pytest.raises(IsADirectoryError):
        main(["neutralize", *map(str, good(inputs)), "--aligned", "--out", str(out), "--json", "--quiet"])
    capsys.readouterr()
    assert (out / "face0_face1_poker.png").is_file()  # the writes before it were done


def test_cli_quiet_and_bad_batch_size(inputs, tmp_path, capsys):
    code = main(["neutralize", str(inputs[0]), "--aligned", "--out", str(tmp_path), "--json", "--quiet",
                 "--progress"])
    out, err = capsys.readouterr()
    assert code == 0 and err == "" and json.loads(out)["n"] == 1
    code = main(["invert", str(inputs[0]), "--aligned", "--out", str(tmp_path), "--batch-size", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "--batch-size" in err
