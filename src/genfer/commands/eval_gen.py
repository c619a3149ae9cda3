"""``genfer eval-gen``: FID/KID, LPIPS, SSIM/PSNR/MSE of generated images against real ones.

``--json`` prints one object ``{"real", "fake", "n_real", "n_fake", "image_size", "metrics": {name: {...}}, ...}``
(see :func:`genfer.evaluate_gen.evaluate_generated`); every metric carries ``value``, ``std`` and ``n``.
"""

from __future__ import annotations

import argparse
from typing import Any

from genfer.commands._common import add_common, emit, setup_threads
from genfer.metrics.names import PAIRED, UNPAIRED


EXAMPLE = 'genfer eval-gen real/ fake/ --metrics fid,kid,ssim --json'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("eval-gen", help="FID/KID, LPIPS, SSIM/PSNR/MSE of generated images against real ones")
    p.add_argument("real", help="folder of real images, or a statistics file written by --save-stats")
    p.add_argument("fake", help="folder of generated images")
    p.add_argument("--metrics", default=",".join(UNPAIRED), help=f"comma-separated: {','.join(UNPAIRED)} (unpaired); "
                                                                 f"{','.join(PAIRED)} (paired by file name)")
    p.add_argument("--extractor", default="genfer-fer", choices=["genfer-fer", "inception"],
                   help="FID/KID features: genfer-fer (offline, the recognizer's; not comparable with published "
                        "FIDs) or inception (needs --inception-weights)")
    p.add_argument("--inception-weights", metavar="PATH", help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth "
                                                              "(default: $GENFER_CACHE/inception/)")
    p.add_argument("--lpips-net", default="genfer", choices=["genfer", "alex", "vgg"],
                   help="genfer (offline, the recognizer's features) or alex/vgg (needs --lpips-weights)")
    p.add_argument("--lpips-weights", metavar="PATH", help="LPIPS backbone + linear heads, lpips package key layout")
    p.add_argument("--save-stats", metavar="PATH", help="save the real set's feature statistics (.safetensors)")
    p.add_argument("--size", type=int, help="resize all images to SIZE x SIZE (default: the first real image's size)")
    p.add_argument("--batch-size", type=int, default=64, help="images per feature-extractor batch")
    p.add_argument("--kid-subset-size", type=int, default=1000,
                   help="images per KID subset (capped at the smaller set's size)")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets averaged")
    p.add_argument("--seed", type=int, default=0, help="seed of the KID subsets")
    add_common(p)
    return p


def run(args: argparse.Namespace) -> int:
    from genfer.evaluate_gen import evaluate_generated, format_result

    setup_threads(args)
    result = evaluate_generated(
        args.real, args.fake, metrics=args.metrics, extractor=args.extractor, model=args.model,
        inception_weights=args.inception_weights, lpips_net=args.lpips_net, lpips_weights=args.lpips_weights,
        batch_size=args.batch_size, size=args.size, save_stats_to=args.save_stats,
        kid_subset_size=args.kid_subset_size, kid_subsets=args.kid_subsets, seed=args.seed,
        progress=not args.quiet)
    emit(args, result, format_result(result))
    return 0
