"""``genfer eval``: accuracy, mean class accuracy, macro-F1 and confusion of a recognizer on a dataset.

``--json`` prints one object: ``accuracy``, ``mean_class_accuracy``, ``macro_f1``, ``n``, ``classes``,
``confusion``, ``predicted_classes``, ``per_class`` and what was evaluated (model, dataset, split, faces).
"""

from __future__ import annotations

import argparse
from typing import Any

from genfer.data.registry import DATASETS
from genfer.commands._common import add_common, add_detector, emit, setup_threads


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("eval", help="accuracy, mean class accuracy, macro-F1 and confusion on a dataset")
    p.add_argument("--dataset", required=True, help=", ".join(DATASETS))
    p.add_argument("--data", help="dataset root (default: $GENFER_DATA/<dataset>)")
    p.add_argument("--split", help="split (default: the dataset's evaluation split)")
    p.add_argument("--label-source", help="ferplus: majority (8 classes) or fer2013 (7 classes)")
    p.add_argument("--faces", default="auto", choices=["auto", "crop", "detect"])
    p.add_argument("--limit", type=int, default=0, help="evaluate only the first N images")
    p.add_argument("--out", help="write metrics.json and confusion.png here")
    add_detector(p)
    p.add_argument("--tta", action="store_true")
    p.add_argument("--batch-size", type=int, default=256)
    add_common(p)
    return p


def run(args: argparse.Namespace) -> int:
    from genfer.api import Recognizer
    from genfer.evaluate import evaluate_dataset, save_eval
    from genfer.paths import dataset_root

    setup_threads(args)
    rec = Recognizer(args.model, detector=args.detector, hflip_tta=args.tta, batch_size=args.batch_size)
    options = {}
    if args.label_source:
        options["label_source"] = args.label_source
    result = evaluate_dataset(rec, args.dataset, dataset_root(args.dataset.lower(), args.data), args.split,
                              faces=args.faces, limit=args.limit, progress=not args.quiet and not args.json,
                              **options)
    if args.out:
        save_eval(result, args.out)
    text = f"{result.model} on {result.dataset} split {result.split} ({result.faces}):\n{result.report.table()}"
    emit(args, result.to_dict(), text)
    return 0
