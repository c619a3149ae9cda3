"""``genfer neutralize``: PF-ViT poker faces of the faces in photos."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np


def save_png(image: np.ndarray, path: Path, *, scale: int = 1) -> str:
    """Write a uint8 (H, W) or (H, W, 3) image as PNG, enlarged ``scale`` times (nearest); returns the path."""
    from PIL import Image

    img = Image.fromarray(image)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    img.save(path)
    return str(path)


def cmd_neutralize(args: argparse.Namespace) -> int:
    import torch

    from genfer.api import expand_inputs
    from genfer.cli import UserError
    from genfer.neutralize import Neutralizer

    if args.threads:
        torch.set_num_threads(args.threads)
    items = expand_inputs(args.paths)
    if not items:
        raise UserError("no images found in " + " ".join(args.paths))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    neu = Neutralizer(args.model, detector=args.detector)
    results, lines, unreadable = [], [], []
    for result, faces in neu.iter_neutralize(items, aligned=args.aligned):
        if not result.readable:
            unreadable.append(result.error)
        record = result.to_dict()
        stem = Path(result.path).stem
        for k, (face, images) in enumerate(zip(record["faces"], faces)):
            base = out_dir / f"{stem}_face{k + 1}"
            face["poker_face"] = save_png(images.poker_face, base.with_name(base.name + "_poker.png"), scale=args.scale)
            if args.all:
                strip = np.concatenate([images.aligned, images.reconstruction, images.poker_face, images.emotion], axis=1)
                face["strip"] = save_png(strip, base.with_name(base.name + "_strip.png"), scale=args.scale)
            lines.append(f"{Path(result.path).name:<40} {k + 1:>4} {face['label']:<10} -> {face['poker_face']}")
        if result.error and not faces:
            lines.append(f"{Path(result.path).name:<40} {'-':>4} ({result.error})")
        results.append(record)
    print(json.dumps(results) if args.json else "\n".join(lines))
    from genfer.cli import finish

    return finish("neutralize", unreadable, len(items))


def register(sub: Any, add_common: Callable[..., None]) -> None:
    """Add ``genfer neutralize`` to the subcommands."""
    p = sub.add_parser("neutralize", help="PF-ViT poker faces (neutral versions) of the faces in photos")
    p.add_argument("paths", nargs="+", help="image files and/or folders")
    p.add_argument("--out", required=True, help="output folder for the poker-face PNGs")
    add_common(p, model=False)
    p.add_argument("--model", default="pfvit",
                   help="shipped PF-ViT name (default: pfvit = pfvit-vit-t-48) or PF-ViT model/checkpoint folder")
    p.add_argument("--aligned", action="store_true", help="inputs are aligned face crops (no detection)")
    p.add_argument("--all", action="store_true", help="also write a strip: input | reconstruction | poker face | "
                                                      "emotion image G(V_e)")
    p.add_argument("--scale", type=int, default=1, help="enlarge the written images N times (nearest)")
    p.add_argument("--detector", default="auto", choices=["auto", "mediapipe", "haar"])
    p.set_defaults(func=cmd_neutralize)
