"""``genfer explain``: why the recognizer read each face as it did, as saliency overlays.

    genfer explain PATH... --out DIR [--model M] [--aligned] [--json | --jsonl]

Writes one PNG per face into DIR: the aligned face with Grad-CAM++ (ResNets) or attention rollout (ViTs, PF-ViT)
over it, captioned with the label and its probability. ``--json`` prints ``{"n", "errors", "unreadable",
"results"}`` whose ``results`` hold one object per input: ``{"path", "faces": [{"label", "probability", "overlay",
"method", "box"}], "error"}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from genfer.commands._common import (Results, add_aligned, add_backend, add_common, add_detector, close_results,
                                     expand_or_fail, start_recognizer)

EXAMPLE = "genfer explain photo.jpg photos/ --out explained/ --json"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("explain", help="saliency overlays (Grad-CAM++, attention rollout) of recognised faces")
    p.add_argument("paths", nargs="+", help="image files and/or folders")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the overlay PNGs")
    add_aligned(p)
    add_detector(p)
    add_backend(p)
    add_common(p, jsonl=True)
    return p


def run(args: argparse.Namespace) -> int:
    from genfer.explain import iter_explain

    rec = start_recognizer(args)
    items = expand_or_fail(args.paths)
    out = Results(args, header=f"{'image':<40} {'face':>4} {'label':<10} {'p':>5}  overlay")
    for record in iter_explain(rec, items, args.out, aligned=args.aligned):
        name = Path(record["path"]).name
        lines = [f"{name:<40} {'-':>4} ({record['error']})"] if record["error"] and not record["faces"] else []
        lines += [f"{name:<40} {k + 1:>4} {f['label']:<10} {f['probability']:.2f}  {f['overlay']}"
                  for k, f in enumerate(record["faces"])]
        unreadable = record["error"] if record["error"] and record["error"] != "no face found" else None
        out.add(record, lines, unreadable=unreadable)
    return close_results("explain", args, out, rec, len(items))
