"""``genfer sample``: faces generated from random latents.

    genfer sample -n N --out DIR [--seed S] [--truncation T] [--model NAME_OR_PATH] [--save-latents] [--json]

Writes ``sample_NNNN.png`` (and ``sample_NNNN_wplus.npy`` with ``--save-latents``). ``--json`` prints one
object ``{"model", "n", "seed", "truncation", "samples": [{"image", "latent"?}]}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from genfer.commands._common import UserError, emit, save_png
from genfer.commands._gan import add_gan_options, setup_gan


EXAMPLE = 'genfer sample -n 16 --out samples/ --truncation 0.7'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("sample", help="write N faces generated from random latents",
                              description="Generate N faces from z drawn with --seed (truncated towards the average "
                                          "latent by --truncation) and write sample_NNNN.png into --out.")
    p.add_argument("-n", type=int, default=16, help="number of faces (default 16)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents drawn (same seed, same faces)")
    p.add_argument("--truncation", type=float, default=1.0, help="psi in [0, 1]: 1 no truncation (default), "
                                                                 "0 the average face")
    p.add_argument("--save-latents", action="store_true", help="also write sample_NNNN_wplus.npy")
    add_gan_options(p, refine=False)
    return p


def run(args: argparse.Namespace) -> int:
    import torch

    from genfer.io.images import to_uint8

    if args.n < 1:
        raise UserError(f"-n must be >= 1, not {args.n}")
    if not 0 <= args.truncation <= 1:
        raise UserError(f"--truncation must be in [0, 1], not {args.truncation}")
    gan = setup_gan(args)
    from genfer.inversion.load import inversion_parts

    parts = inversion_parts(gan)
    g, out_dir = parts.generator, Path(args.out)
    rng = torch.Generator().manual_seed(args.seed)
    z = torch.randn(args.n, g.style_dim, generator=rng)
    files = []
    with torch.no_grad():
        for start in range(0, args.n, 32):
            images, wplus = g(z[start : start + 32], truncation=args.truncation, truncation_latent=parts.latent_avg,
                              generator=rng, return_latents=True)
            for i, (img, code) in enumerate(zip(to_uint8(images), wplus.numpy())):
                name = f"sample_{start + i:04d}"
                entry = {"image": save_png(img, out_dir / f"{name}.png")}
                if args.save_latents:
                    entry["latent"] = str(out_dir / f"{name}_wplus.npy")
                    np.save(entry["latent"], code.astype(np.float32))
                files.append(entry)
    summary = {"model": str(gan.folder), "n": args.n, "seed": args.seed, "truncation": args.truncation,
               "samples": files}
    emit(args, summary, f"wrote {args.n} samples to {out_dir}")
    return 0
