"""Training throughput of the StyleGAN2 and pSp ``cpu`` presets: prints one JSON line per method.

    python benchmarks/stylegan2_speed.py [--method stylegan2 psp] [--threads 2] [--steps 32] [--preset cpu]
                                        [--set KEY=VALUE ...]   (the one --method's config, e.g. a wider model)

Each method runs its real trainer (``train_stylegan2`` / ``train_psp``) for ``--steps`` steps in a temporary
run folder on the preset's sources (``$GENFER_DATA``; pooled images are cached after the first run), without
sample grids, FID or held-out evaluation, and reports ``images_per_s`` = steps x batch / training seconds
(the loop's own clock: data loading, checkpoints and hooks excluded). StyleGAN2 steps include its lazy R1
steps (every ``d_reg_every``) when ``--steps`` covers one; pSp runs against an untrained generator of the
preset's architecture (speed does not depend on the weights). Measure on an otherwise idle machine: other
processes sharing the cores lower the figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
from pathlib import Path

import torch

from genfer.config import PSP_PRESETS, STYLEGAN2_PRESETS, apply_overrides
from genfer.models.stylegan2 import build_generator
from genfer.train.psp import train_psp
from genfer.train.runner import export_model_folder
from genfer.train.stylegan2 import generator_state, train_stylegan2

QUIET = ["grid_images=0", "checkpoint_minutes=1000"]


def bench_stylegan2(preset: str, steps: int, threads: int, work: Path, overrides: list[str]) -> dict:
    cfg = apply_overrides(STYLEGAN2_PRESETS[preset], [*overrides, *QUIET, "fid_images=0", f"threads={threads}"])
    out = train_stylegan2(cfg, work / "stylegan2", resume=False, progress=False, max_steps=steps)
    return {"method": "stylegan2", "preset": preset, "resolution": cfg.model.resolution,
            "img_channels": cfg.model.img_channels, "channels": list(cfg.model.channels),
            "style_dim": cfg.model.style_dim, "overrides": overrides, "batch": cfg.batch_size,
            "r1_every": cfg.d_reg_every, "path_length": cfg.pl_weight > 0, "steps": out["step"],
            "train_seconds": out["train_seconds"], "images_per_s": round(out["step"] * cfg.batch_size /
                                                                         max(out["train_seconds"], 1e-9), 1)}


def bench_psp(preset: str, steps: int, threads: int, work: Path, overrides: list[str]) -> dict:
    base = PSP_PRESETS[preset]
    g_cfg = apply_overrides(STYLEGAN2_PRESETS[preset], [])
    if g_cfg.model != base.stylegan2:
        raise SystemExit(f"the {preset} presets of stylegan2 and psp describe different generators")
    torch.manual_seed(0)
    export_model_folder(work / "generator", g_cfg, generator_state(build_generator(g_cfg.model)))
    cfg = apply_overrides(base, [*overrides, *QUIET, f"generator={work / 'generator'}", f"threads={threads}",
                                 f"eval_every_steps={10 * steps}"])
    out = train_psp(cfg, work / "psp", resume=False, progress=False, max_steps=steps)
    return {"method": "psp", "preset": preset, "input_size": cfg.encoder.input_size or cfg.stylegan2.resolution,
            "encoder_channels": list(cfg.encoder.stage_channels), "encoder_blocks": list(cfg.encoder.stage_blocks),
            "overrides": overrides, "batch": cfg.batch_size, "loss_weights": vars(cfg.loss.weights), "perceptual": cfg.loss.lpips_net,
            "steps": out["step"], "train_seconds": out["train_seconds"],
            "images_per_s": round(out["step"] * cfg.batch_size / max(out["train_seconds"], 1e-9), 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", nargs="+", default=["stylegan2", "psp"], choices=["stylegan2", "psp"])
    p.add_argument("--preset", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override of the --method")
    args = p.parse_args()
    if args.set and len(args.method) > 1:
        p.error("--set overrides one method's config: give one --method")
    logging.basicConfig(level=logging.WARNING)
    env = {"threads": args.threads, "cpu_count": os.cpu_count(), "torch": torch.__version__,
           "machine": platform.processor() or platform.machine(), "load_average_1min": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.method:
            fn = bench_stylegan2 if method == "stylegan2" else bench_psp
            print(json.dumps({**fn(args.preset, args.steps, args.threads, Path(tmp), args.set), **env}), flush=True)


if __name__ == "__main__":
    main()
