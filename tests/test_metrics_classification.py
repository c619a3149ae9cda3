import numpy as np
import pytest

from genfer.labels import EMOTIONS, EMOTIONS_7
from genfer.metrics.classification import classification_report, plot_confusion


def test_hand_computed_three_class_example():
    classes = ("neutral", "happiness", "surprise")
    labels = np.array([0, 0, 0, 1, 1, 2])
    preds = np.array([0, 0, 1, 1, 1, 0])
    r = classification_report(labels, preds, classes)
    assert r.accuracy == pytest.approx(4 / 6)
    # recalls 2/3, 1, 0 -> mean 5/9
    assert r.mean_class_accuracy == pytest.approx(5 / 9)
    # precisions 2/3, 2/3, 0; f1: neutral 2/3, happiness 0.8, surprise 0 -> macro (2/3 + 0.8) / 3
    assert r.macro_f1 == pytest.approx((2 / 3 + 0.8 + 0) / 3)
    assert r.confusion.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert r.per_class["happiness"] == {"support": 2, "recall": 1.0, "precision": pytest.approx(2 / 3), "f1": 0.8}
    assert r.n == 6 and "macro-F1" in r.table()


def test_eight_class_model_on_seven_class_set_counts_contempt_as_wrong():
    labels = np.array([0, 1, 2, 3])
    preds = np.array([0, 7, 2, 7])  # two contempt predictions
    r = classification_report(labels, preds, EMOTIONS_7, EMOTIONS)
    assert r.accuracy == 0.5
    assert r.predicted_classes == EMOTIONS
    assert r.confusion.shape == (7, 8) and r.confusion[1, 7] == 1 and r.confusion[3, 7] == 1
    assert set(r.to_dict()) >= {"accuracy", "mean_class_accuracy", "macro_f1", "n", "classes", "confusion"}


def test_confusion_png(tmp_path):
    r = classification_report(np.array([0, 1, 1]), np.array([0, 1, 0]), ("neutral", "happiness"))
    plot_confusion(r, str(tmp_path / "c.png"))
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
