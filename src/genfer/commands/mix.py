"""``genfer mix``: style mixing of two inverted faces.

    genfer mix A B --out DIR [--crossover K ...] [--aligned] [--refine STEPS] [--model NAME_OR_PATH] [--json]

Inverts the first face of A and of B and renders ``W+ = A[:k] ++ B[k:]`` for each crossover k (A's coarse
styles: pose and face shape; B's finer ones: expression details, texture and lighting); writes
``<a>_<b>_mix<k>.png`` and a strip ``<a>_<b>_mix.png`` (A's reconstruction, the mixes, B's reconstruction).
``--json`` prints one object ``{"a", "b", "crossovers", "images", "strip", "error"}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from genfer.commands._common import UserError, emit, save_png
from genfer.commands._gan import add_gan_options, face_inverter, setup_gan


EXAMPLE = 'genfer mix a.jpg b.jpg --out mix/'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("mix", help="style mixing of two inverted faces: A's coarse styles with B's finer ones",
                              description="Invert the first face of A and of B; for each crossover K render the W+ "
                                          "code made of A's entries [0, K) and B's entries [K, n_latent): A's pose "
                                          "and face shape with B's finer styles. Writes A_B_mixK.png and the strip "
                                          "A_B_mix.png (A's reconstruction, the mixes, B's reconstruction).")
    p.add_argument("a", help="image giving the coarse styles")
    p.add_argument("b", help="image giving the finer styles")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--crossover", type=int, nargs="+", metavar="K",
                   help="W+ crossover indices (default: the encoder's coarse/medium bounds)")
    add_gan_options(p, refine=True)
    return p


def run(args: argparse.Namespace) -> int:
    import torch

    from genfer.io.images import to_uint8

    gan = setup_gan(args)
    from genfer.inversion.load import inversion_parts

    parts = inversion_parts(gan)
    n_latent = parts.generator.n_latent
    enc = parts.encoder
    crossovers = args.crossover or ([enc.coarse_end, enc.medium_end] if hasattr(enc, "coarse_end")
                                    else [n_latent // 3, 2 * n_latent // 3])
    bad = [k for k in crossovers if not 0 < k < n_latent]
    if bad:
        raise UserError(f"--crossover values must be in 1..{n_latent - 1} (the generator has {n_latent} W+ entries), "
                        f"not {bad[0]}")
    inverter = face_inverter(args, gan)
    pair = list(inverter.iter_invert([args.a, args.b], aligned=args.aligned))
    errors = [f"{r.path}: {r.error}" for r in pair if r.error]
    record: dict[str, Any] = {"a": args.a, "b": args.b, "crossovers": crossovers, "images": [], "strip": None,
                              "error": "; ".join(errors) or None}
    if all(r.faces for r in pair):
        wa, wb = (torch.from_numpy(r.faces[0].wplus)[None] for r in pair)
        mixes = to_uint8(inverter.render(torch.cat([torch.cat([wa[:, :k], wb[:, k:]], 1) for k in crossovers])))
        out_dir = Path(args.out)
        base = f"{Path(args.a).stem}_{Path(args.b).stem}_mix"
        record["images"] = [save_png(img, out_dir / f"{base}{k}.png") for k, img in zip(crossovers, mixes)]
        strip = np.concatenate([pair[0].faces[0].reconstruction, *mixes, pair[1].faces[0].reconstruction], axis=1)
        record["strip"] = save_png(strip, out_dir / f"{base}.png")
    emit(args, record, record["strip"] or record["error"])
    if record["error"]:  # an unreadable image or no face: no mix was made
        print(f"genfer mix: error: {record['error']}", file=sys.stderr)
        return 2
    return 0
