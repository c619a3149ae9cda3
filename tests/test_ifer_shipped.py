"""The shipped IFER model (``ifer-gray64``, alias ``ifer``): a recognizer like the others, through the hub,
``genfer recognize`` and ``genfer eval``."""

import json

import pytest

from conftest import run_cli as run
from genfer.hub import MODEL_ALIASES, available_models, load_model
from genfer.labels import EMOTIONS


def test_the_alias_names_the_paper_model_on_an_asit_encoder():
    assert MODEL_ALIASES["ifer"] in available_models()
    loaded = load_model("ifer")
    cfg = loaded.config
    assert loaded.method == "ifer" and "recognize" in loaded.tasks
    assert (cfg.encoder, cfg.model.fusion, cfg.model.fer_map, cfg.pretrained) == ("asit", "modulation", "structure", True)
    assert cfg.inversion == "asit-gray64"  # a name that resolves on every machine, not the training run's path


def test_recognize_with_ifer_gives_the_recognizer_json(capsys, sample_photo):
    code, out, _ = run(capsys, "recognize", str(sample_photo), "--model", "ifer", "--json")
    assert code == 0
    (face,) = json.loads(out)["results"][0]["faces"]
    probs = face["probabilities"]
    assert list(probs) == list(EMOTIONS) and face["label"] == max(probs, key=probs.get)
    assert sum(probs.values()) == pytest.approx(1, abs=1e-3)


@pytest.mark.data
def test_eval_with_ifer_reads_well_above_the_largest_class(capsys):
    code, out, _ = run(capsys, "eval", "--dataset", "ferplus", "--model", "ifer", "--limit", "300", "--json",
                       "--quiet")
    d = json.loads(out)
    # neutral, FER2013Valid's largest class, is about 37 % of it: a head that lost its weights scores near that
    assert code == 0 and d["n"] == 300 and d["accuracy"] > 0.55
