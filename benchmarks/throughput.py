"""Recognizer throughput on aligned crops (batch 64) and end-to-end latency on real photos.

Prints one JSON object: aligned faces/s at batch 64 on ``--threads`` threads; per-photo latency
(detect + landmarks + align + classify) over ``$GENFER_DATA/faces/images``; detection rate by source and
label accuracy on those photos (their labels.csv).

    python benchmarks/throughput.py [--model NAME] [--threads 2]
"""

import argparse
import csv
import json
import statistics
import time
from collections import Counter

import numpy as np
import torch

from genfer.api import Recognizer
from genfer.faces.io import load_image
from genfer.labels import canonical_name
from genfer.paths import data_root


def aligned_throughput(rec: Recognizer, batch: int = 64, repeats: int = 20) -> float:
    crops = np.random.default_rng(0).integers(0, 255, (batch, rec.image_size, rec.image_size), dtype=np.uint8)
    rec.predict_crops(crops)
    t = time.perf_counter()
    for _ in range(repeats):
        rec.predict_crops(crops)
    return batch * repeats / (time.perf_counter() - t)


def photo_benchmark(rec: Recognizer) -> dict:
    folder = data_root() / "faces"
    with open(folder / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    times, sources, correct, labelled = [], Counter(), 0, 0
    rec.predict([load_image(folder / "images" / rows[0]["image"])])  # warm-up: loads mediapipe
    for row in rows:
        image = load_image(folder / "images" / row["image"])
        t = time.perf_counter()
        res = rec.predict([image])[0]
        times.append(time.perf_counter() - t)
        if not res.faces:
            sources["none"] += 1
            continue
        face = max(res.faces, key=lambda f: f.box[2] * f.box[3])
        sources[face.source] += 1
        truth = canonical_name(row["emotion"])
        if truth in rec.classes:
            labelled += 1
            correct += face.label == truth
    n = len(rows)
    return {
        "photos": n,
        "face_found_rate": round(1 - (sources["none"] + sources["whole-image"]) / n, 4),
        "sources": dict(sources),
        "label_accuracy": round(correct / max(1, labelled), 4),
        "latency_ms_median": round(1000 * statistics.median(times), 1),
        "latency_ms_p90": round(1000 * float(np.percentile(times, 90)), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rec = Recognizer(args.model) if args.model else Recognizer()
    out = {"model": rec.loaded.name, "threads": args.threads,
           "aligned_faces_per_s_batch64": round(aligned_throughput(rec), 1)}
    if (data_root() / "faces").is_dir():
        out["photos"] = photo_benchmark(rec)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
