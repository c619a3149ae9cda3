"""Classification metrics for FER: accuracy, mean class accuracy, macro-F1, confusion matrix.

Predictions and labels are canonical class indices. A model may predict classes the dataset does not
have (an 8-class model on a 7-class set predicting ``contempt``): such predictions count as wrong,
and the confusion matrix gets an extra predicted column for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ClassificationReport:
    """Metrics of predictions over ``classes`` (the dataset's classes, canonical order).

    ``confusion[i][j]`` counts images of true class ``classes[i]`` predicted as ``predicted_classes[j]``.
    """

    classes: tuple[str, ...]
    predicted_classes: tuple[str, ...]
    accuracy: float
    mean_class_accuracy: float
    macro_f1: float
    n: int
    confusion: np.ndarray
    per_class: dict[str, dict[str, float]]

    def to_dict(self) -> dict:
        """JSON-able dict (the ``genfer eval --json`` contract)."""
        return {
            "accuracy": self.accuracy,
            "mean_class_accuracy": self.mean_class_accuracy,
            "macro_f1": self.macro_f1,
            "n": self.n,
            "classes": list(self.classes),
            "predicted_classes": list(self.predicted_classes),
            "confusion": self.confusion.tolist(),
            "per_class": self.per_class,
        }

    def table(self) -> str:
        """A plain-text per-class table."""
        lines = [f"{'class':<10} {'support':>7} {'recall':>7} {'precision':>9} {'f1':>6}"]
        for c in self.classes:
            p = self.per_class[c]
            lines.append(f"{c:<10} {int(p['support']):>7} {p['recall']:>7.4f} {p['precision']:>9.4f} {p['f1']:>6.4f}")
        lines.append(
            f"accuracy {self.accuracy:.4f}  mean class accuracy {self.mean_class_accuracy:.4f}  "
            f"macro-F1 {self.macro_f1:.4f}  n={self.n}"
        )
        return "\n".join(lines)


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of (N, K) scores against (N,) labels (NaN for an empty set)."""
    return float((probs.argmax(1) == labels).float().mean()) if len(labels) else float("nan")


def classification_report(
    labels: np.ndarray,
    predictions: np.ndarray,
    classes: tuple[str, ...],
    model_classes: tuple[str, ...] | None = None,
) -> ClassificationReport:
    """Compute FER classification metrics.

    Args:
        labels: (N,) true indices into ``classes``.
        predictions: (N,) predicted indices into ``model_classes`` (default: ``classes``).
        classes: the dataset's class names.
        model_classes: the model's class names (canonical order); extra ones count as wrong.
    """
    from sklearn.metrics import (
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ in shape")
    model_classes = tuple(model_classes or classes)
    extra = tuple(c for c in model_classes if c not in classes)
    predicted_classes = tuple(classes) + extra
    # map predicted model indices to indices in predicted_classes
    remap = np.array([predicted_classes.index(c) for c in model_classes], dtype=np.int64)
    pred = remap[predictions] if len(predictions) else predictions
    k, kp = len(classes), len(predicted_classes)
    conf = confusion_matrix(labels, pred, labels=list(range(kp)))[:k, :] if len(labels) else np.zeros((k, kp), int)
    prec, rec, f1, support = precision_recall_fscore_support(
        labels, pred, labels=list(range(k)), zero_division=0
    ) if len(labels) else (np.zeros(k),) * 4
    present = support > 0
    n = int(len(labels))
    return ClassificationReport(
        classes=tuple(classes),
        predicted_classes=predicted_classes,
        accuracy=float((labels == pred).mean()) if n else float("nan"),
        mean_class_accuracy=float(rec[present].mean()) if present.any() else float("nan"),
        macro_f1=float(f1_score(labels, pred, labels=list(np.flatnonzero(present)), average="macro", zero_division=0))
        if n else float("nan"),
        n=n,
        confusion=conf.astype(np.int64),
        per_class={
            c: {"support": int(support[i]), "recall": float(rec[i]), "precision": float(prec[i]), "f1": float(f1[i])}
            for i, c in enumerate(classes)
        },
    )


def plot_confusion(report: ClassificationReport, path: str, *, title: str = "") -> None:
    """Save the row-normalised confusion matrix (with counts) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conf = report.confusion.astype(float)
    rows = conf.sum(1, keepdims=True)
    norm = np.divide(conf, rows, out=np.zeros_like(conf), where=rows > 0)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * conf.shape[1], 1.0 + 0.7 * conf.shape[0]))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(conf.shape[1]), report.predicted_classes, rotation=45, ha="right")
    ax.set_yticks(range(conf.shape[0]), report.classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(conf.shape[0]):
        for j in range(conf.shape[1]):
            ax.text(j, i, f"{norm[i, j]:.2f}\n{int(conf[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title or f"accuracy {report.accuracy:.4f}, n={report.n}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
