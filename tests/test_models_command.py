"""``genfer models``: one row per shipped model with method, tasks, classes, input, size and headline figure, read
from the model folders (config through the registry, safetensors header, model card); ``--json`` has the same."""

from __future__ import annotations

import json

import pytest
import torch

from genfer import registry
from genfer.catalog import catalog, headline, model_info, parameter_count
from genfer.cli import main
from genfer.hub import MODEL_ALIASES, available_models, model_card


def _run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_json_lists_method_and_task_of_every_shipped_model(capsys):
    code, out = _run(capsys, "models", "--json")
    data = json.loads(out)
    assert code == 0 and [m["name"] for m in data["models"]] == available_models()
    for m in data["models"]:
        assert m["method"] in registry.names() and m["tasks"] == list(registry.get(m["method"]).tasks)
        assert set(m) >= {"aliases", "classes", "resolution", "channels", "parameters", "size_mb", "headline"}
        assert m["headline"] and m["headline"] in model_card(m["name"])
    by_name = {m["name"]: m for m in data["models"]}
    for alias, name in MODEL_ALIASES.items():
        assert name not in by_name or alias in by_name[name]["aliases"]  # aliases may name models not shipped yet
    assert by_name[data["default"]]["default"] and by_name[data["default"]]["classes"] == 8


def test_table_has_the_columns_and_shows_aliases(capsys):
    code, out = _run(capsys, "models")
    header, *rows = out.splitlines()
    assert code == 0 and header.split() == ["name", "method", "tasks", "classes", "input", "size", "headline"]
    for alias, name in MODEL_ALIASES.items():
        assert name not in available_models() or any(row.startswith(f"{name} ({alias})") for row in rows)
    psp = next(r for r in rows if r.startswith(MODEL_ALIASES["psp"]))
    assert "invert, sample" in psp and "64 px gray" in psp


def test_an_alias_shows_the_model_card(capsys):
    code, out = _run(capsys, "models", "psp", "--json")
    assert code == 0 and json.loads(out) == {"name": MODEL_ALIASES["psp"], "card": model_card(MODEL_ALIASES["psp"])}


def test_headline_is_the_cards_paragraph():
    card = "# m\n\n**Task.** x\n\n**Headline.** 85.01 % on\nFER2013Valid.\n\n**More.** y\n"
    assert headline(card) == "85.01 % on FER2013Valid."
    assert headline("# m\n\n**Task.** x\n") is None


def test_parameter_count_reads_the_safetensors_header(tmp_path):
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(3, 4), "b": torch.zeros(5, dtype=torch.float16)}, tmp_path / "w.safetensors")
    assert parameter_count(tmp_path / "w.safetensors") == 17


def test_model_info_of_a_trained_folder(tiny_model):
    info = model_info(str(tiny_model))
    assert info.method == "recognizer" and info.tasks == ("recognize",) and info.headline is None
    assert info.resolution and info.classes and info.parameters > 0 and info.input.endswith(("gray", "RGB"))


@pytest.mark.parametrize("info", catalog(), ids=lambda i: i.name)
def test_every_shipped_model_card_has_a_headline(info):
    assert info.headline


def test_listing_models_loads_no_torch():
    """``genfer models`` (and building the parser) reads folders and headers only: torch is never imported."""
    import subprocess
    import sys

    code = "import sys; from genfer.cli import main; main(['models', '--json']); assert 'torch' not in sys.modules, " \
           "sorted(m for m in sys.modules if m.startswith('genfer.'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
