"""The genfer command: output contracts and one-line errors with exit code 2."""

import json

import pytest

from genfer.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genfer "), err
    for f in fragments:
        assert f in lines[0]


def test_recognize_json_contract(capsys, tiny_model, sample_photo):
    code, out, _ = run(capsys, "recognize", str(sample_photo), "--model", str(tiny_model), "--json")
    assert code == 0
    (item,) = json.loads(out)
    assert set(item) == {"path", "faces", "error"} and item["error"] is None
    face = item["faces"][0]
    assert {"box", "landmarks", "label", "probabilities"} <= set(face)
    assert len(face["box"]) == 4 and len(face["landmarks"]) == 5 and face["label"] in face["probabilities"]


def test_recognize_table_annotate_and_aligned(capsys, tiny_model, sample_photo, tmp_path):
    code, out, _ = run(capsys, "recognize", str(sample_photo), "--model", str(tiny_model),
                       "--annotate", str(tmp_path / "ann"))
    assert code == 0 and "grace_hopper.jpg" in out
    assert (tmp_path / "ann" / "grace_hopper.jpg").is_file()
    code, out, _ = run(capsys, "recognize", str(sample_photo), "--model", str(tiny_model), "--aligned", "--json")
    assert json.loads(out)[0]["faces"][0]["source"] == "aligned"


def test_recognize_user_errors(capsys, tiny_model, tmp_path):
    code, _, err = run(capsys, "recognize", str(tmp_path / "missing.jpg"), "--model", str(tiny_model))
    assert_user_error(code, err, "missing.jpg")
    (tmp_path / "bad.jpg").write_text("not an image")
    code, out, err = run(capsys, "recognize", str(tmp_path / "bad.jpg"), "--model", str(tiny_model), "--json")
    assert_user_error(code, err, "could not be read")
    assert "corrupt" in json.loads(out)[0]["error"]
    code, _, err = run(capsys, "recognize", str(tmp_path / "bad.jpg"), "--model", str(tmp_path))
    assert_user_error(code, err, "config.json")


def test_eval_json_contract_and_outputs(capsys, tiny_model, tiny_dataset, tmp_path):
    code, out, _ = run(capsys, "eval", "--dataset", "folder", "--data", str(tiny_dataset / "valid"),
                       "--model", str(tiny_model), "--faces", "crop", "--json", "--out", str(tmp_path / "ev"))
    assert code == 0
    d = json.loads(out)
    assert {"accuracy", "mean_class_accuracy", "macro_f1", "n", "classes", "confusion"} <= set(d)
    assert d["n"] == 32 and len(d["confusion"]) == len(d["classes"]) == 8
    assert (tmp_path / "ev" / "confusion.png").is_file() and (tmp_path / "ev" / "metrics.json").is_file()


def test_eval_user_errors(capsys, tiny_model, tmp_path):
    code, _, err = run(capsys, "eval", "--dataset", "imagenet", "--data", str(tmp_path), "--model", str(tiny_model))
    assert_user_error(code, err, "unknown dataset")
    code, _, err = run(capsys, "eval", "--dataset", "ferplus", "--data", str(tmp_path), "--model", str(tiny_model))
    assert_user_error(code, err, "FER2013Valid")


def test_train_user_errors(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--preset", "tiny", "--set", "optim.lr=-1", "--out", str(tmp_path / "r"))
    assert_user_error(code, err, "optim.lr")
    code, _, err = run(capsys, "train", "--preset", "galaxy")
    assert_user_error(code, err, "unknown preset")


def test_train_cli_tiny_run(capsys, tiny_dataset, tmp_path):
    code, out, _ = run(capsys, "train", "--preset", "tiny", "--quiet", "--out", str(tmp_path / "r"),
                       "--set", "data.dataset=folder", "--set", "data.target=label", "--data", str(tiny_dataset),
                       "--set", "data.limit_train=0", "--set", "data.limit_val=0")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["step"] == 6
    assert (tmp_path / "r" / "config.yaml").is_file() and (tmp_path / "r" / "final" / "model.safetensors").is_file()


def test_demo_writes_report(capsys, tiny_model, tmp_path):
    code, out, _ = run(capsys, "demo", "--model", str(tiny_model), "--out", str(tmp_path / "demo"), "--json")
    assert code == 0
    summary = json.loads(out)
    html = (tmp_path / "demo" / "report.html").read_text()
    assert "grace_hopper" in html and "data:image/jpeg;base64" in html
    assert len(summary["photos"]) >= 2 and summary["photos"][0]["faces"]
    composite = summary["photos"][-1]
    assert len(composite["faces"]) == 2, composite


@pytest.mark.parametrize("argv", [["--version"], ["recognize", "--help"]])
def test_help_and_version(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
