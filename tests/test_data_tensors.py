"""load_split: vote distributions as training targets, the model's class count, unreadable images left out."""

import dataclasses

import numpy as np
import pytest
import torch

from genfer.config import DataConfig
from genfer.data import tensors
from genfer.data.base import DatasetImageError


def _with_votes(monkeypatch, votes):
    """Give the folder dataset's split ``votes`` (rows of raw counts over its classes) as FERPlus has them."""
    opened = tensors.open_labelled

    def open_with_votes(data, split, limit=0):
        ds = opened(data, split, limit)
        rows = np.resize(np.asarray(votes, np.float32), (len(ds), len(ds.classes)))
        return dataclasses.replace(ds, votes=rows / rows.sum(1, keepdims=True))
    monkeypatch.setattr(tensors, "open_labelled", open_with_votes)


def test_vote_targets_are_rows_of_the_vote_distribution_cut_to_the_model_classes(tiny_dataset, monkeypatch):
    """Votes [6, 2, 0, 0, 0, 0, 0, 2] (contempt last) for a 7-class model: contempt's column is dropped and the
    row renormalised: [6, 2, 0, ...] / 8 = [0.75, 0.25, 0, 0, 0, 0, 0]; with target=label the one-hot labels."""
    _with_votes(monkeypatch, [[6, 2, 0, 0, 0, 0, 0, 2]])
    kw = dict(num_classes=7, image_size=16, in_chans=1)
    data = DataConfig(dataset="folder", root=str(tiny_dataset), target="votes")
    with pytest.raises(ValueError, match="labels beyond the model's 7 classes"):  # the folder set has contempt
        tensors.load_split(data, "valid", **kw)
    _drop_contempt(monkeypatch)
    split = tensors.load_split(data, "valid", **kw)
    expected = torch.tensor([0.75, 0.25, 0, 0, 0, 0, 0]).expand(len(split.labels), 7)
    torch.testing.assert_close(split.targets, expected)
    assert split.images.shape == (len(split.labels), 1, 16, 16)
    labels = tensors.load_split(dataclasses.replace(data, target="label"), "valid", **kw)
    torch.testing.assert_close(labels.targets, torch.nn.functional.one_hot(labels.labels, 7).float())


def _drop_contempt(monkeypatch):
    opened = tensors.open_labelled

    def without_contempt(data, split, limit=0):
        ds = opened(data, split, limit)
        return ds.subset(np.flatnonzero(ds.labels < 7))
    monkeypatch.setattr(tensors, "open_labelled", without_contempt)


def test_skip_bad_leaves_out_unreadable_images_and_says_how_many(tiny_dataset, caplog):
    bad = next((tiny_dataset / "valid" / "fear").iterdir())
    bad.write_bytes(b"not a png")
    data = DataConfig(dataset="folder", root=str(tiny_dataset), target="label")
    with pytest.raises(DatasetImageError, match=bad.name):
        tensors.load_split(data, "valid", num_classes=8, image_size=16, in_chans=1)
    kept = tensors.load_split(dataclasses.replace(data, skip_bad=True), "valid", num_classes=8, image_size=16,
                              in_chans=1)
    assert len(kept.labels) == 31 and len(kept.images) == 31
    assert f"left out 1 unreadable image(s), e.g. valid/fear/{bad.name}" in caplog.text


def test_votes_of_fewer_classes_than_the_model_are_padded_with_zeros(tmp_path, monkeypatch):
    """A 7-class dataset's votes [6, 2, 0, 0, 0, 0, 0] for an 8-class model: [0.75, 0.25, 0, 0, 0, 0, 0, 0]."""
    from conftest import write_class_folders

    root = write_class_folders(tmp_path / "seven", {"valid": 2}, classes=("neutral", "happiness", "surprise",
                               "sadness", "anger", "disgust", "fear"))
    _with_votes(monkeypatch, [[6, 2, 0, 0, 0, 0, 0]])
    split = tensors.load_split(DataConfig(dataset="folder", root=str(root)), "valid", num_classes=8, image_size=16,
                               in_chans=1)
    torch.testing.assert_close(split.targets, torch.tensor([0.75, 0.25, 0, 0, 0, 0, 0, 0]).expand(14, 8))
