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
