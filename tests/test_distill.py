"""Distillation targets: the teacher's probabilities mixed into the training targets by image id."""

import numpy as np
import pytest
import torch

from genfer.data.tensors import mix_teacher


def _teacher(tmp_path, ids, probs):
    path = tmp_path / "teacher.npz"
    np.savez(path, ids=np.array(ids), probs=np.array(probs, np.float32))
    return str(path)


def test_mix_teacher_matches_by_id_and_weights(tmp_path):
    """targets [1, 0] and [0, 1], teacher rows (by id, stored in the other order) [.2, .8] and [.6, .4], w = .25:
    .75 * [1, 0] + .25 * [.2, .8] = [.8, .2]; .75 * [0, 1] + .25 * [.6, .4] = [.15, .85]."""
    path = _teacher(tmp_path, ["b.png", "a.png"], [[0.6, 0.4], [0.2, 0.8]])
    mixed = mix_teacher(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), ["a.png", "b.png"], path, 0.25)
    torch.testing.assert_close(mixed, torch.tensor([[0.8, 0.2], [0.15, 0.85]]))


def test_mix_teacher_errors(tmp_path):
    targets = torch.tensor([[1.0, 0.0]])
    with pytest.raises(ValueError, match="no probabilities for 1 training image"):
        mix_teacher(targets, ["c.png"], _teacher(tmp_path, ["a.png"], [[0.5, 0.5]]), 0.5)
    with pytest.raises(ValueError, match="3 classes, the model has 2"):
        mix_teacher(targets, ["a.png"], _teacher(tmp_path, ["a.png"], [[0.2, 0.3, 0.5]]), 0.5)
    with pytest.raises(ValueError, match="rows must sum to 1"):
        mix_teacher(targets, ["a.png"], _teacher(tmp_path, ["a.png"], [[0.2, 0.3]]), 0.5)


def test_teacher_weight_is_validated():
    from genfer.config import DataConfig

    with pytest.raises(ValueError, match="teacher_weight must be in"):
        DataConfig(teacher_weight=1.5)


def test_load_split_mixes_the_teacher_into_the_training_split_only(tiny_dataset, tmp_path):
    """Teacher rows for the training images only (uniform 1/8, per id): with w = 0.25 the training targets become
    0.75 * one-hot + 0.25 / 8, the labels stay; the validation split keeps its one-hot targets (its ids have no
    teacher rows, so mixing them would fail)."""
    from genfer.config import DataConfig
    from genfer.data.tensors import load_split, open_labelled

    data = DataConfig(dataset="folder", root=str(tiny_dataset), target="label")
    train_ids = open_labelled(data, "train", 0).ids
    teacher = _teacher(tmp_path, list(reversed(train_ids)), np.full((len(train_ids), 8), 1 / 8))
    data = DataConfig(dataset="folder", root=str(tiny_dataset), target="label", teacher=teacher, teacher_weight=0.25)
    kw = dict(num_classes=8, image_size=16, in_chans=1)
    train, valid = load_split(data, "train", **kw), load_split(data, "valid", **kw)
    one_hot = torch.nn.functional.one_hot(train.labels, 8).float()
    torch.testing.assert_close(train.targets, 0.75 * one_hot + 0.25 / 8)
    torch.testing.assert_close(valid.targets, torch.nn.functional.one_hot(valid.labels, 8).float())
    assert len(set(train.labels.tolist())) == 8 and len(valid.labels) == 32
