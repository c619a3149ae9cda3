"""Seconds per training step of the recognizer, float32 against bfloat16 autocast (``optim.precision``).

Runs the real trainer (``genfer.train.recognizer``) on a preset (default ``cpu``: ResNet-18s, 48 px, batch 64):
``--warmup`` steps, then ``--steps`` timed steps, once per precision and ``--rounds`` times alternating. A step's
time is the interval between the ends of two consecutive optimiser updates (batch draw and augmentation, forward,
loss, backward, update, weight average). Data: FERPlus train (its first ``--images``) when ``$GENFER_DATA`` has
it, else ``--images`` random 48x48 grey faces; ``--data`` forces one. Prints one JSON object; other processes
running meanwhile share the CPU (the load average and ``--note`` are recorded).

    python benchmarks/train_step_speed.py [--threads 1] [--warmup 3] [--steps 20] [--rounds 1] [--data auto]
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import genfer.train.recognizer as recognizer_trainer
from genfer.config import PRECISIONS, apply_overrides, preset
from genfer.labels import EMOTIONS
from genfer.paths import dataset_root


def random_faces(root: Path, images: int, size: int) -> Path:
    """A ``folder`` dataset of ``images`` random grey images, spread over the 8 expressions."""
    rng = np.random.default_rng(0)
    for i in range(images):
        folder = root / "train" / EMOTIONS[i % len(EMOTIONS)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(folder / f"{i:05d}.png")
    return root


def step_seconds(overrides: list[str], run_dir: Path, *, warmup: int, steps: int) -> list[float]:
    """Run ``warmup + steps`` recognizer steps; the ``steps`` timed step durations in seconds."""
    ends: list[float] = []
    update = recognizer_trainer.optimizer_step

    def timed_update(*args, **kwargs):
        update(*args, **kwargs)
        ends.append(time.perf_counter())

    recognizer_trainer.optimizer_step = timed_update
    try:
        recognizer_trainer.train_recognizer(apply_overrides(preset(overrides[0]), overrides[1:]), run_dir,
                                            resume=False, progress=False, max_steps=warmup + steps, tensorboard=False)
    finally:
        recognizer_trainer.optimizer_step = update
    return [b - a for a, b in zip(ends[warmup - 1 : -1], ends[warmup:])]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (>= 1)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--images", type=int, default=640, help="training images loaded")
    ap.add_argument("--data", choices=["auto", "real", "random"], default="auto")
    ap.add_argument("--note", default="", help="recorded as is, e.g. what else ran meanwhile")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = preset(args.preset)
    real = args.data == "real" or (args.data == "auto" and bool(os.environ.get("GENFER_DATA"))
                                   and dataset_root(cfg.data.dataset, None).is_dir())
    with tempfile.TemporaryDirectory() as tmp:
        if real:
            data = [f"data.limit_train={args.images}", "data.val_split="]
        else:
            root = random_faces(Path(tmp) / "faces", args.images, cfg.model.image_size)
            data = ["data.dataset=folder", f"data.root={root}", "data.target=label", "data.val_split=",
                    "data.limit_train=0"]
        base = [args.preset, f"threads={args.threads}", *data]
        times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
        load = os.getloadavg()[0]
        for r in range(args.rounds):
            for precision in PRECISIONS:
                times[precision] += step_seconds([*base, f"optim.precision={precision}"],
                                                 Path(tmp) / f"run-{precision}-{r}", warmup=args.warmup,
                                                 steps=args.steps)
    cpu_flags = open("/proc/cpuinfo").read() if Path("/proc/cpuinfo").is_file() else ""
    out = {
        "preset": args.preset, "batch": cfg.optim.batch_size, "model": f"{cfg.model.arch}-{cfg.model.depth} "
        f"channels {list(cfg.model.channels)} at {cfg.model.image_size} px", "threads": args.threads,
        "data": f"{cfg.data.dataset} train, first {args.images}" if real else f"{args.images} random grey images",
        "warmup_steps": args.warmup, "timed_steps_per_precision": args.steps * args.rounds, "rounds": args.rounds,
        "cpu_bf16": [f for f in ("amx_bf16", "avx512_bf16") if f in cpu_flags], "torch": torch.__version__,
        "load_average_1min_at_start": round(load, 2), "note": args.note,
    }
    for precision, t in times.items():
        out[precision] = {"median_s_per_step": round(statistics.median(t), 4), "mean_s_per_step":
                          round(statistics.fmean(t), 4), "min_s_per_step": round(min(t), 4)}
    out["speedup_median"] = round(out["float32"]["median_s_per_step"] / out["bfloat16"]["median_s_per_step"], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
