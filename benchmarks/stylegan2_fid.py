"""FID* of StyleGAN2 generators, measured as ``genfer train stylegan2`` does during training: prints one JSON line
per model.

    python benchmarks/stylegan2_fid.py psp-gray64 runs/stylegan2-cpu-cont [runs/x/ckpt-000001562 ...] [--threads 1]

Each model (a shipped name, a model, run or checkpoint folder: its EMA generator) samples the run's fixed
``fid_images`` latents, and the Fréchet distance of their ``genfer-fer:<fid_model>`` features is taken against
the same held-out real faces the ``cpu`` preset's run holds out (the last ``holdout`` pooled images after its
fixed shuffle), so the figures continue the training curve in ``metrics.jsonl``. ``--preset`` and ``--set``
choose the run config whose held-out faces and extractor are used (default: the ``cpu`` preset).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from genfer.config import STYLEGAN2_PRESETS, apply_overrides
from genfer.data.pool import load_image_pool, split_holdout
from genfer.inversion.load import inversion_parts, load_gan
from genfer.train.stylegan2 import FIDMonitor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="generators: shipped names, model/run/checkpoint folders")
    parser.add_argument("--preset", default="cpu", help="the run config whose held-out faces are used")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = apply_overrides(STYLEGAN2_PRESETS[args.preset], args.set)
    m = cfg.model
    pool, _ = load_image_pool(cfg.sources, size=m.resolution, channels=m.img_channels, limit=cfg.limit,
                              progress=False)
    _, held_idx = split_holdout(len(pool), cfg.holdout, cfg.seed)
    fid = FIDMonitor(pool[held_idx[: cfg.fid_images]], model=cfg.fid_model, style_dim=m.style_dim, seed=cfg.seed,
                     device=torch.device("cpu"))
    for name in args.models:
        t0 = time.perf_counter()
        loaded = load_gan(name)
        value = fid(inversion_parts(loaded).generator)
        print(json.dumps({"model": str(name), "folder": str(loaded.folder), "fid": round(value, 4),
                          "fid_extractor": fid.name, "fid_images": cfg.fid_images,
                          "seconds": round(time.perf_counter() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
