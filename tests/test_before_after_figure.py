"""scripts/before_after_figure.py: the face/reference choice and reading an old shipped model from git."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from script_helpers import ROOT, load_script


def _script():
    return load_script("scripts/before_after_figure.py")


def test_reference_is_next_face_with_another_label():
    fig = _script()
    # labels 3 3 1 3 -> refs: 0 -> 2 (1 skipped: same label), 1 -> 2, 2 -> 3, 3 -> 2 (wraps past 0 and 1)
    assert fig.reference_order(np.array([3, 3, 1, 3])).tolist() == [2, 2, 3, 2]


def test_figure_has_one_row_per_caption():
    fig = _script()
    rows = [("a", torch.zeros(8, 1, 48, 48, dtype=torch.uint8)), ("b\nc", torch.full((8, 3, 48, 48), 255, dtype=torch.uint8))]
    image = fig.figure(rows, side=96)
    assert image.size == (fig.LABEL_WIDTH + 8 * (96 + 4), 2 * (96 + 4))
    assert image.getpixel((fig.LABEL_WIDTH + 10, 10)) == (0, 0, 0)
    assert image.getpixel((fig.LABEL_WIDTH + 10, 110)) == (255, 255, 255)


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_old_model_is_read_from_git(tmp_path):
    fig = _script()
    folder = Path(fig.model_folder("git:HEAD:psp-gray64", tmp_path))
    assert (folder / "config.json").is_file() and folder.is_relative_to(tmp_path)
    assert fig.model_folder("pfvit", tmp_path) == "pfvit"
    with pytest.raises(SystemExit, match="cannot read"):
        fig.model_folder("git:HEAD:no-such-model", tmp_path)


def test_load_spec_checks_the_system_and_names_the_rows(tmp_path):
    from genfer.io.files import CheckpointError

    fig = _script()
    loaded, name = fig.load_spec("psp", "psp-gray64", tmp_path)
    assert name == "psp-gray64" and loaded.method in ("psp", "stylegan2")
    with pytest.raises(CheckpointError):
        fig.load_spec("psp", "switchgan-fer2013-48", tmp_path)
    with pytest.raises(CheckpointError):
        fig.load_spec("switchgan", "psp-gray64", tmp_path)
