"""``genfer eval``: accuracy, mean class accuracy, macro-F1 and confusion of a recognizer on a dataset.

``--json`` prints one object: ``accuracy``, ``mean_class_accuracy``, ``macro_f1``, ``n``, ``classes``,
``confusion``, ``predicted_classes``, ``per_class`` and what was evaluated (model, dataset, split, faces).
"""

from __future__ import annotations

import argparse
from typing import Any

from genfer.commands._common import (UserError, add_backend, add_common, add_detector, emit, say_backend,
                                     start_recognizer)
from genfer.commands._help import dataset_list


EXAMPLE = 'genfer eval --dataset ferplus --data $GENFER_DATA/ferplus --split valid --out eval/'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("eval", help="accuracy, mean class accuracy, macro-F1 and confusion on a dataset")
    p.add_argument("--dataset", required=True, help=f"dataset reader, with its default split: {dataset_list()}")
    p.add_argument("--data", help="dataset root (default: $GENFER_DATA/<dataset>)")
    p.add_argument("--split", help="split to evaluate (default: the dataset's evaluation split, in --dataset's list)")
    p.add_argument("--label-source", help="ferplus: majority (8 classes) or fer2013 (7 classes)")
    p.add_argument("--faces", default="auto", choices=["auto", "crop", "detect"],
                   help="crop: images are face crops, resized; detect: detect and align the largest face; auto: crop "
                        "for the crop datasets (FER2013, FERPlus, ...), detect for the others")
    p.add_argument("--limit", type=int, default=0, help="evaluate only the first N images")
    p.add_argument("--exclude-duplicates-of", metavar="SPLIT",
                   help="drop faces whose pixels exactly equal a face of this split of the dataset (e.g. train); "
                        "the output says how many were dropped")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a reader option, e.g. cameras=051,050 for multipie, peak=last for mmi (repeatable)")
    p.add_argument("--out", help="write metrics.json and confusion.png here")
    p.add_argument("--skip-bad", action="store_true",
                   help="leave out images that cannot be read (counted in the output) instead of stopping")
    add_detector(p)
    p.add_argument("--tta", action="store_true", help="average with the mirrored face (flip test-time augmentation)")
    p.add_argument("--batch-size", type=int, default=256, help="faces per network batch")
    add_backend(p)
    add_common(p)
    return p


def run(args: argparse.Namespace) -> int:
    from genfer.evaluate import evaluate_dataset, save_eval
    from genfer.paths import dataset_root

    rec = start_recognizer(args, hflip_tta=args.tta, batch_size=args.batch_size)
    options = {}
    if args.label_source:
        options["label_source"] = args.label_source
    options.update(reader_options(args.option))
    result = evaluate_dataset(rec, args.dataset, dataset_root(args.dataset.lower(), args.data), args.split,
                              faces=args.faces, limit=args.limit, progress=not args.quiet and not args.json,
                              exclude_duplicates_of=args.exclude_duplicates_of, skip_bad=args.skip_bad, **options)
    if args.out:
        save_eval(result, args.out)
    split = f"split {result.split}" if result.split is not None else "all images"
    text = f"{result.model} on {result.dataset} {split} ({result.faces}):\n{result.report.table()}"
    if result.summary():
        text += "\n" + result.summary()
    emit(args, result.to_dict(), text)
    say_backend(args, rec)
    return 0


def reader_options(pairs: list[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs -> reader keyword options (true/false and integers converted)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--option takes KEY=VALUE, not {pair!r}")
        low = value.strip().lower()
        out[key.strip().replace("-", "_")] = {"true": True, "false": False}.get(
            low, int(low) if low.isdigit() and not low.startswith("0") else value.strip())
    return out
