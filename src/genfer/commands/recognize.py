"""``genfer recognize``: the expressions of the faces in photos.

    genfer recognize PATH... [--model M] [--aligned] [--annotate OUT] [--json | --jsonl]

Prints a table with one row per face; ``--json`` one object ``{"n", "errors", "unreadable", "results"}`` whose
``results`` hold one object per image, ``{"path", "faces": [{"box", "landmarks", "label", "probabilities",
"source", "score"}], "error"}``; ``--jsonl`` those per-image objects, one per line as each image finishes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from genfer.commands._common import (
    OutputNames,
    Results,
    add_aligned,
    add_backend,
    add_common,
    add_detector,
    close_results,
    expand_or_fail,
    shown_paths,
    start_recognizer,
)
from genfer.commands._video import add_video_options, any_video, photo_table, run_videos


EXAMPLE = 'genfer recognize photo.jpg photos/ --annotate annotated/ --json'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("recognize", help="recognise expressions of faces in photos")
    p.add_argument("paths", nargs="+", help="image files and/or folders, or videos (.mp4, .avi, ...)")
    add_common(p, jsonl=True)
    p.add_argument("--annotate", metavar="OUT", help="write annotated copies into folder OUT (videos: OUT.mp4)")
    add_aligned(p)
    add_detector(p)
    p.add_argument("--tta", action="store_true", help="average with the mirrored face")
    p.add_argument("--batch-size", type=int, default=64, help="faces per network batch")
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    add_backend(p)
    add_video_options(p, annotate=False)
    return p


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from genfer.faces.io import load_image
    from genfer.render import annotate

    rec = start_recognizer(args, hflip_tta=args.tta, batch_size=args.batch_size)
    items = expand_or_fail(args.paths)
    if any_video(items):
        return run_videos(args, "recognize", items, rec)
    table = photo_table(args, rec.classes)
    annotate_dir = Path(args.annotate) if args.annotate else None
    if annotate_dir:
        annotate_dir.mkdir(parents=True, exist_ok=True)
    out = Results(args, header=f"{'image':<40} {'face':>4} {'label':<10} {'p':>5}  box (x, y, w, h)")
    shown, stems = shown_paths(items), OutputNames()
    bar = tqdm(total=len(items), unit="img", disable=args.quiet or not sys.stderr.isatty() and not args.progress)
    for res in rec.iter_predict(items, aligned=args.aligned):
        bar.update(1)
        name = shown.get(res.path, res.path)
        lines = []
        if res.error and not res.faces:
            lines.append(f"{name:<40} {'-':>4} {'(' + res.error + ')'}")
        for k, f in enumerate(res.faces):
            note = " whole image" if f.source == "whole-image" else ""
            lines.append(f"{name:<40} {k + 1:>4} {f.label:<10} {f.probabilities[f.label]:.2f}  "
                         f"{', '.join(str(round(v)) for v in f.box)}{note}")
        if annotate_dir and res.faces:
            annotated = annotate_dir / (stems(res.path) + ".jpg")
            annotate(load_image(res.path), res.faces).save(annotated, quality=90)
        record = res.to_dict() | ({"annotated": str(annotated)} if annotate_dir and res.faces else {})
        out.add(record, lines, unreadable=None if res.readable else res.error)
        table.add(res)
    bar.close()
    table.close()
    return close_results("recognize", args, out, rec, len(items))
