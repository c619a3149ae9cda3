"""``genfer neutralize``: PF-ViT poker faces of the faces in photos.

    genfer neutralize PATH... --out DIR [--aligned] [--model NAME_OR_PATH] [--all] [--json | --jsonl]
                      [--batch-size 64] [--precision float32|bfloat16]

``--json`` prints one object ``{"n", "errors", "unreadable", "results"}``; each result is the image's
``genfer recognize`` object whose faces also carry ``poker_face`` (and ``strip`` with ``--all``): the PNGs
written. ``--jsonl`` prints the per-image objects, one per line as each image finishes.

The faces of consecutive inputs run through the networks in batches of ``--batch-size``; the PNGs are written
in a background thread (a ``--jsonl`` line is printed once its files are written). A progress bar goes to
stderr on a terminal (``--progress``: always; ``--quiet``: never).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from genfer.commands._common import (BackgroundWriter, OutputNames, Results, add_aligned, add_batch_options,
                                     add_common, add_detector, check_batch_size, expand_or_fail, finish, progress_bar,
                                     save_png, setup_threads, shown_paths, UserError)
from genfer.commands._help import model_help
from genfer.commands._video import add_video_options, any_video, neutralize_videos, reject_video_options
from genfer.commands._latent import add_latent_options
from genfer.commands._latent import run_neutralize as run_latent_neutralize

__all__ = ["add_parser", "run", "save_png"]


EXAMPLE = 'genfer neutralize photo.jpg --out poker/ --all'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("neutralize", help="PF-ViT poker faces (neutral versions) of the faces in photos")
    p.add_argument("paths", nargs="+", help="image files and/or folders")
    p.add_argument("--out", help="output folder for the poker-face PNGs (photos; required for them)")
    add_common(p, model=False, jsonl=True)
    p.add_argument("--model", default="pfvit", help=model_help("neutralize", "PF-ViT"))
    add_aligned(p)
    p.add_argument("--all", action="store_true", help="also write a strip: input | reconstruction | poker face | "
                                                      "emotion image G(V_e)")
    p.add_argument("--scale", type=int, default=1, help="enlarge the written images N times (nearest)")
    p.add_argument("--method", default="pfvit", choices=["pfvit", "latent"],
                   help="pfvit: PF-ViT's poker faces (--model); latent: projection onto the neutral hyperplane in the "
                        "generator's W+ space and a step along the neutral direction (Eq. 2; --inverter, "
                        "--directions; --all strip: input | reconstruction | neutral)")
    add_latent_options(p)
    add_detector(p)
    add_batch_options(p, batch_size=64)
    add_video_options(p, annotate=True)
    return p


def _strip(images) -> np.ndarray:
    return np.concatenate([images.aligned, images.reconstruction, images.poker_face, images.emotion], axis=1)


def run(args: argparse.Namespace) -> int:
    from genfer.pipelines.neutralize import Neutralizer

    if any_video(args.paths):
        return neutralize_videos(args)
    reject_video_options(args, "csv", "annotate")
    if not args.out:
        raise UserError("--out is required for photos (the folder of the poker-face PNGs)")
    if args.method == "latent":
        return run_latent_neutralize(args)
    setup_threads(args)
    batch_size = check_batch_size(args)
    items = expand_or_fail(args.paths)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    neu = Neutralizer(args.model, detector=args.detector, batch_size=batch_size, precision=args.precision)
    out, shown, stems = Results(args), shown_paths(items), OutputNames()
    with BackgroundWriter(max_pending=4 * batch_size) as writer, progress_bar(args, len(items), "img") as bar:
        for result, faces in neu.iter_neutralize(items, aligned=args.aligned, poker_only=not args.all):
            record = result.to_dict()
            stem, name = stems(result.path), shown.get(result.path, result.path)
            lines, pending = [], []
            for k, (face, images) in enumerate(zip(record["faces"], faces)):
                base = out_dir / f"{stem}_face{k + 1}"
                face["poker_face"] = str(base.with_name(base.name + "_poker.png"))
                pending.append(writer.submit(save_png, images.poker_face, Path(face["poker_face"]), scale=args.scale))
                if args.all:
                    face["strip"] = str(base.with_name(base.name + "_strip.png"))
                    pending.append(writer.submit(save_png, _strip(images), Path(face["strip"]), scale=args.scale))
                lines.append(f"{name:<40} {k + 1:>4} {face['label']:<10} -> {face['poker_face']}")
            if result.error and not faces:
                lines.append(f"{name:<40} {'-':>4} ({result.error})")
            out.add(record, lines, unreadable=None if result.readable else result.error, pending=pending)
            bar.update(1)
        out.close()
    return finish("neutralize", out.unreadable, len(items))
