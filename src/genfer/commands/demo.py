"""``genfer demo``: recognise packaged sample photos (or yours) and write an HTML report.

Each face in the report comes with its ``genfer explain`` overlay (Grad-CAM++ for the ResNets, attention rollout
for the ViTs), written into ``OUT/explain/``. With the shipped generative models installed, it also shows each
face's PF-ViT poker face, its StyleGAN2 inversion by the pSp encoder next to the encoder's code refined by
``--refine`` optimisation steps (``genfer invert --refine``; default :data:`genfer.demo.DEMO_REFINE_STEPS`, 0: the
encoder only), and an expression transfer between the first two photos; every image is captioned.

``--json`` prints one object ``{"report", "photos": [{"photo", "faces": [labels], "error", "overlays": [PNG
paths]}]}`` (the summary of :func:`genfer.demo.run_demo`).
"""

from __future__ import annotations

import argparse
from typing import Any

from genfer.commands._common import add_common, emit, setup_threads


EXAMPLE = 'genfer demo --out genfer-demo      # then open genfer-demo/report.html'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("demo", help="recognise packaged sample photos and write an HTML report")
    p.add_argument("paths", nargs="*", help="your own photos instead of the samples")
    p.add_argument("--out", default="genfer-demo", help="output folder (default genfer-demo)")
    p.add_argument("--refine", type=int, metavar="STEPS",
                   help="optimisation steps after the pSp encoder in the inversion row (default: a short refine, "
                        "see docs/cli.md; 0: the encoder only)")
    add_common(p)
    return p


def run(args: argparse.Namespace) -> int:
    from genfer.api import Recognizer
    from genfer.demo import DEMO_REFINE_STEPS, run_demo
    from genfer.faces.io import list_images, load_image

    setup_threads(args)
    rec = Recognizer(args.model)
    photos = [(str(p), load_image(p)) for p in list_images(args.paths)] if args.paths else None
    summary = run_demo(rec, args.out, photos, refine_steps=DEMO_REFINE_STEPS if args.refine is None else args.refine)
    lines = [f"{p['photo']}: {', '.join(p['faces']) or p['error']}" for p in summary["photos"]]
    emit(args, summary, "\n".join(lines) + f"\nreport: {summary['report']}")
    return 0
