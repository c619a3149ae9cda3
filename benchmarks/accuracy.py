"""Accuracy on FER2013Valid (FERPlus majority, 8 classes) and FER2013 PublicTest (the same images with their
original FER2013 labels, 7 classes). Prints one JSON object.

By default FER2013Valid is scored with the default recognizer (``fer-resnet18s-48``, trained on FERPlus's labels)
and PublicTest with ``fer2013-resnet18s-48`` (trained on FER2013's labels); ``--model`` scores one model on both.

``--without-duplicates`` adds the figures without the faces that are exact pixel copies of training faces
(FER2013's splits share some).

    python benchmarks/accuracy.py [--model NAME_OR_FOLDER] [--tta] [--backend torch] [--without-duplicates]
"""

import argparse
import json
import time

import torch

from genfer.api import Recognizer
from genfer.evaluate import evaluate_dataset
from genfer.hub import DEFAULT_RECOGNIZER, FER2013_RECOGNIZER
from genfer.paths import dataset_root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--tta", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backend", default="torch", help="torch, onnx, onnx-int8 or auto")
    ap.add_argument("--without-duplicates", action="store_true",
                    help="also score without the faces that are pixel copies of FERPlus-train faces")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    models = {"majority": args.model or DEFAULT_RECOGNIZER, "fer2013": args.model or FER2013_RECOGNIZER}
    root = dataset_root("ferplus", None)
    out = {"hflip_tta": args.tta}
    for key, split, source in [("ferplus_valid_8class", "valid", "majority"),
                               ("fer2013_publictest_7class", "valid", "fer2013")]:
        rec = Recognizer(models[source], hflip_tta=args.tta, backend=args.backend)
        t = time.perf_counter()
        r = evaluate_dataset(rec, "ferplus", root, split, label_source=source).report
        out[key] = {"model": rec.loaded.name, "backend": rec.backend.name, "accuracy": round(r.accuracy, 4),
                    "mean_class_accuracy": round(r.mean_class_accuracy, 4), "macro_f1": round(r.macro_f1, 4),
                    "n": r.n, "seconds": round(time.perf_counter() - t, 1)}
        if args.without_duplicates:
            d = evaluate_dataset(rec, "ferplus", root, split, label_source=source, exclude_duplicates_of="train")
            out[key]["without_train_duplicates"] = {"accuracy": round(d.report.accuracy, 4), "n": d.report.n,
                                                    "dropped": d.duplicates["dropped"]}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
