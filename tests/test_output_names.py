"""No silent overwrite (one naming rule for every command) and no dropped inputs (a missing path is reported per
input while the others are processed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import run_cli
from genfer.commands._common import OutputNames, expand_or_fail, shown_paths


def test_output_names_add_a_counter_per_repeated_stem():
    names = OutputNames()
    assert [names(p) for p in ("a/x.jpg", "b/x.jpg", "x.png", "y.jpg", "c/x.jpg")] == ["x", "x-2", "x-3", "y", "x-4"]
    assert OutputNames()("") == "image"


def test_shown_paths_keep_enough_of_the_path(tmp_path):
    a, b = tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg"
    assert shown_paths([a, b]) == {str(a): "a/x.jpg", str(b): "b/x.jpg"}
    assert shown_paths([a, tmp_path / "a" / "y.jpg"]) == {str(a): "x.jpg", str(tmp_path / "a" / "y.jpg"): "y.jpg"}


def test_a_missing_path_stays_an_input(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "p.png").write_bytes(b"")
    items = expand_or_fail([str(tmp_path / "d"), str(tmp_path / "gone.jpg"), str(tmp_path / "d" / "p.png")])
    assert [str(i) for i in items] == [str(tmp_path / "d" / "p.png"), str(tmp_path / "gone.jpg")]


def test_recognize_same_names_and_a_missing_path(tmp_path, capsys, sample_photo):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(sample_photo, tmp_path / folder / "x.jpg")
    paths = [str(tmp_path / "a" / "x.jpg"), str(tmp_path / "missing.jpg"), str(tmp_path / "b" / "x.jpg")]
    code, out, err = run_cli(capsys, "recognize", *paths, "--annotate", str(tmp_path / "ann"), "--json", "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "missing.jpg" in err
    doc = json.loads(out)
    assert [r["path"] for r in doc["results"]] == paths and doc["unreadable"] == 1
    assert "no such file" in doc["results"][1]["error"]
    good = [doc["results"][0], doc["results"][2]]
    assert all(r["faces"] for r in good)  # the good inputs were processed
    assert [Path(r["annotated"]).name for r in good] == ["x.jpg", "x-2.jpg"]
    assert sorted(p.name for p in (tmp_path / "ann").iterdir()) == ["x-2.jpg", "x.jpg"]
