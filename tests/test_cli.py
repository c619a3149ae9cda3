"""The genfer command: output contracts and one-line errors with exit code 2."""

import ast
import importlib
import json
import shutil
from pathlib import Path

import pytest

from genfer.cli import main
from conftest import assert_user_error
from conftest import run_cli as run


def test_recognize_json_contract(capsys, tiny_model, sample_photo):
    code, out, _ = run(capsys, "recognize", str(sample_photo), "--model", str(tiny_model), "--json")
    assert code == 0
    d = json.loads(out)
    assert set(d) == {"n", "errors", "unreadable", "results"} and (d["n"], d["errors"], d["unreadable"]) == (1, 0, 0)
    (item,) = d["results"]
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
    assert json.loads(out)["results"][0]["faces"][0]["source"] == "aligned"


def test_recognize_user_errors(capsys, tiny_model, tmp_path):
    code, _, err = run(capsys, "recognize", str(tmp_path / "missing.jpg"), "--model", str(tiny_model))
    assert_user_error(code, err, "missing.jpg")
    (tmp_path / "bad.jpg").write_text("not an image")
    code, out, err = run(capsys, "recognize", str(tmp_path / "bad.jpg"), "--model", str(tiny_model), "--json")
    assert_user_error(code, err, "could not be read")
    d = json.loads(out)
    assert "corrupt" in d["results"][0]["error"] and (d["n"], d["errors"], d["unreadable"]) == (1, 1, 1)
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
    code, out, _ = run(capsys, "demo", "--model", str(tiny_model), "--out", str(tmp_path / "demo"), "--json",
                       "--refine", "2")
    assert code == 0
    summary = json.loads(out)
    html = (tmp_path / "demo" / "report.html").read_text()
    assert "grace_hopper" in html and "data:image/jpeg;base64" in html
    assert len(summary["photos"]) >= 2 and summary["photos"][0]["faces"]
    composite = summary["photos"][-1]
    assert len(composite["faces"]) == 2, composite
    assert len(composite["overlays"]) == 2 and all(Path(p).is_file() for p in composite["overlays"])  # genfer explain's
    assert f"src='explain/{Path(composite['overlays'][1]).name}'" in html  # overlay per face (tests/test_demo.py)
    from report_helpers import captioned

    from genfer.hub import MODEL_ALIASES, available_models

    if MODEL_ALIASES["psp"] in available_models():  # the shipped pSp: encoder and --refine 2 side by side, per face
        faces = sum(len(p["faces"]) for p in summary["photos"])
        assert len(captioned(html, "encoder (pSp)")) == len(captioned(html, "encoder (pSp) + 2 refine steps")) == faces


def test_recognize_jsonl_streams_one_line_per_image(capsys, monkeypatch, tiny_model, sample_photo, tmp_path):
    from genfer.api import Recognizer

    shutil.copy(sample_photo, tmp_path / "b.jpg")
    (tmp_path / "c.jpg").write_text("not an image")
    original, printed = Recognizer.iter_predict, []

    def spy(self, *args, **kwargs):
        for res in original(self, *args, **kwargs):
            yield res
            printed.append(capsys.readouterr().out)  # what the command printed once it handled this image

    monkeypatch.setattr(Recognizer, "iter_predict", spy)
    code, out, err = run(capsys, "recognize", str(sample_photo), str(tmp_path), "--model", str(tiny_model), "--jsonl")
    assert code == 2 and "1 of 3 images could not be read" in err and out == ""
    assert [len(chunk.splitlines()) for chunk in printed] == [1, 1, 1]  # streamed: one line per image, as it ends
    items = [json.loads(chunk) for chunk in printed]
    assert [Path(i["path"]).name for i in items] == ["grace_hopper.jpg", "b.jpg", "c.jpg"]
    assert all(set(i) == {"path", "faces", "error"} for i in items) and items[1]["faces"] and items[2]["error"]


def test_json_and_jsonl_exclude_each_other(capsys, sample_photo):
    with pytest.raises(SystemExit) as exc:
        main(["recognize", str(sample_photo), "--json", "--jsonl"])
    assert exc.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_models_json_is_one_object(capsys):
    code, out, _ = run(capsys, "models", "--json")
    d = json.loads(out)
    assert code == 0 and isinstance(d, dict) and d["default"] in [m["name"] for m in d["models"]]
    code, out, _ = run(capsys, "models", d["default"], "--json")
    card = json.loads(out)
    assert code == 0 and card["name"] == d["default"] and card["card"]
    code, out, _ = run(capsys, "models", d["default"])
    assert out.strip() == card["card"].strip()


def test_train_print_config_is_one_object(capsys):
    code, out, _ = run(capsys, "train", "--preset", "tiny", "--print-config")
    assert code == 0 and isinstance(json.loads(out), dict)


def test_every_command_has_a_module_and_none_imports_the_cli():
    """``genfer.cli`` only assembles the parser: each subcommand lives in its own ``genfer.commands`` module,
    and no command module imports ``genfer.cli`` (which imports them)."""
    import genfer.commands
    from genfer.cli import build_parser

    folder = Path(genfer.commands.__file__).parent
    offenders = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            offenders += [f"{path.name}:{node.lineno}" for n in names if n == "genfer.cli" or n.startswith("genfer.cli.")]
    assert not offenders, offenders
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    assert sorted(sub.choices) == sorted(m.replace("_", "-") for m in genfer.commands.COMMANDS)
    for module in genfer.commands.COMMANDS:
        run_command = importlib.import_module(f"genfer.commands.{module}").run
        assert sub.choices[module.replace("_", "-")].get_default("func") is run_command


def test_cli_keeps_user_error_importable():
    from genfer.cli import UserError
    from genfer.commands._common import UserError as CommonUserError

    assert UserError is CommonUserError and issubclass(UserError, ValueError)


@pytest.mark.parametrize("argv", [["--version"], ["recognize", "--help"]])
def test_help_and_version(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
