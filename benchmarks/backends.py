"""Recognizer backends side by side: aligned faces/s at batch 64, accuracy on FER2013Valid, parity with torch,
and the peer ``fer`` measured in the same run (when its venv exists). Prints one JSON object.

Backends: ``torch-unfused`` (the model as loaded, the path before the backends existed), ``torch`` (batch norms
folded), ``onnx`` (ONNX Runtime fp32) and ``onnx-int8`` (static int8, calibrated on 512 FERPlus training faces).
Throughput is given per wall-clock second and per CPU second of the process (all threads; steadier when other
processes share the CPU). Accuracy is on FER2013Valid with FERPlus majority labels (8 classes), all faces and without the faces that are
pixel copies of FERPlus-train faces; parity is max |Δprob| and label agreement against ``torch-unfused`` on the
same faces.

    python benchmarks/backends.py [--model NAME] [--threads 2] [--repeats 20] [--fer-python /work/fervenv/bin/python]
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from genfer.api import Recognizer
from genfer.data.registry import open_dataset
from genfer.evaluate import duplicates_in_split
from genfer.hub import DEFAULT_RECOGNIZER
from genfer.paths import dataset_root


class UnfusedTorch:
    """The model as loaded, run as before this work (``predict_probs`` on the module)."""

    name = "torch-unfused"

    def __init__(self, model):
        self.model = model

    def logits(self, x):
        with torch.inference_mode():
            return self.model(x)

    def describe(self):
        return "torch, batch norms not folded"


def faces_per_second(rec: Recognizer, crops: np.ndarray, repeats: int) -> tuple[float, float]:
    """Aligned crops (64, s, s) uint8 through ``rec.predict_crops``, best of three timings of ``repeats`` calls:
    (faces per wall-clock second, faces per CPU second of this process, all threads)."""
    rec.predict_crops(crops)
    wall, cpu = 0.0, 0.0
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(repeats):
            rec.predict_crops(crops)
        wall = max(wall, len(crops) * repeats / (time.perf_counter() - start))
        cpu = max(cpu, len(crops) * repeats / (time.process_time() - start_cpu))
    return wall, cpu


def accuracy(probs: np.ndarray, labels: np.ndarray, classes, rec_classes) -> float:
    names = np.asarray(rec_classes)[probs.argmax(1)]
    return round(float((names == np.asarray(classes)[labels]).mean()), 4)


def fer_peer(python: str, threads: int, repeats: int) -> dict:
    script = Path(__file__).with_name("fer_baseline.py")
    if not Path(python).is_file():
        return {"skipped": f"{python} not found"}
    out = subprocess.run([python, str(script), "--threads", str(threads), "--repeats", str(repeats)],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=DEFAULT_RECOGNIZER)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--backends", default="torch-unfused,torch,torch-bf16,onnx,onnx-int8")
    ap.add_argument("--fer-python", default="/work/fervenv/bin/python")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = dataset_root("ferplus", None)
    valid = open_dataset("ferplus", root, "valid")
    valid = valid.subset(np.flatnonzero(valid.labels >= 0))
    unique = ~duplicates_in_split(valid, "ferplus", root, "train")
    out = {"model": args.model, "threads": args.threads, "batch": 64,
           "note": "CPU shared with training runs: throughput figures are noisy", "backends": {}}
    reference = None
    for name in args.backends.split(","):
        rec = Recognizer(args.model, backend="torch" if name == "torch-unfused" else name, batch_size=256)
        if name == "torch-unfused":
            rec._backend = UnfusedTorch(rec.loaded.model)
        crops = valid.to_array(rec.image_size)
        batch = crops[:64]
        probs = rec.predict_crops(crops)
        if reference is None:
            reference = probs
        wall, cpu = faces_per_second(rec, batch, args.repeats)
        out["backends"][name] = {
            "describe": rec.backend.describe(),
            "aligned_faces_per_s": round(wall, 1), "aligned_faces_per_cpu_s": round(cpu, 1),
            "fer2013valid_accuracy": accuracy(probs, valid.labels, valid.classes, rec.classes),
            "fer2013valid_accuracy_without_train_duplicates": accuracy(probs[unique], valid.labels[unique],
                                                                       valid.classes, rec.classes),
            "faces": len(crops), "faces_without_duplicates": int(unique.sum()),
            "max_abs_dprob_vs_torch_unfused": float(np.abs(probs - reference).max()),
            "label_agreement_vs_torch_unfused": round(float((probs.argmax(1) == reference.argmax(1)).mean()), 5),
        }
        print(f"{name}: {out['backends'][name]}", file=sys.stderr)
    if args.fer_python:
        out["peer_fer"] = fer_peer(args.fer_python, args.threads, args.repeats)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
