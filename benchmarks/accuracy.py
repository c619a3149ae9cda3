"""Accuracy of a recognizer on FER2013Valid (FERPlus majority, 8 classes) and FER2013 PublicTest
(the same images with their original FER2013 labels, 7 classes). Prints one JSON object.

    python benchmarks/accuracy.py [--model NAME_OR_FOLDER] [--tta]
"""

import argparse
import json
import time

import torch

from genfer.api import Recognizer
from genfer.evaluate import evaluate_dataset
from genfer.paths import dataset_root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--tta", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rec = Recognizer(args.model, hflip_tta=args.tta) if args.model else Recognizer(hflip_tta=args.tta)
    root = dataset_root("ferplus", None)
    out = {"model": rec.loaded.name, "hflip_tta": args.tta}
    for key, split, source in [("ferplus_valid_8class", "valid", "majority"),
                               ("fer2013_publictest_7class", "valid", "fer2013")]:
        t = time.perf_counter()
        r = evaluate_dataset(rec, "ferplus", root, split, label_source=source).report
        out[key] = {"accuracy": round(r.accuracy, 4), "mean_class_accuracy": round(r.mean_class_accuracy, 4),
                    "macro_f1": round(r.macro_f1, 4), "n": r.n, "seconds": round(time.perf_counter() - t, 1)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
