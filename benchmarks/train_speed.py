"""Seconds per training step and peak memory of any method's real trainer (``genfer train``), as one JSON object.

Runs ``genfer train METHOD --preset P`` as a child process into a temporary run folder, first to ``--warmup`` steps
(the first steps pay for lazy initialisation and caches), then resumed to ``--warmup + --steps`` steps; the step
time is the difference of the two ``train`` events' ``train_seconds`` (the trainer's own clock of training steps:
batch, forward, losses, backward, updates; not data loading or checkpoints) over ``--steps``. Peak memory is the
largest resident set of the two child processes (``getrusage``). The load average is recorded: other processes
share the CPU.

    python benchmarks/train_speed.py asit [--preset cpu] [--threads 2] [--warmup 5] [--steps 20] [--set KEY=VALUE ...]
    python benchmarks/train_speed.py ifer --set inversion=asit-gray64
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path


CLI = "import sys; from genfer.cli import main; sys.exit(main())"
"""``python -c`` program running genfer's command line."""


def train_events(run: Path) -> dict[int, float]:
    """``{step: train_seconds}`` of the run's ``train`` events."""
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {e["step"]: e["train_seconds"] for e in events if e.get("event") == "train" and "train_seconds" in e}


def train_to(args: argparse.Namespace, run: Path, steps: int) -> None:
    """``genfer train`` up to ``steps`` (resuming the run folder); a failure ends the benchmark with its stderr."""
    argv = [sys.executable, "-c", CLI, "train", args.method, "--preset", args.preset, "--out", str(run),
            "--threads", str(args.threads), "--max-steps", str(steps), "--quiet", "--no-tensorboard"]
    for item in args.set:
        argv += ["--set", item]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"genfer train failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("method")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--set", action="append", default=[], help="config override, as genfer train --set")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="genfer-train-speed-") as tmp:
        run = Path(tmp) / "run"
        train_to(args, run, args.warmup)
        train_to(args, run, args.warmup + args.steps)
        seconds = train_events(run)
    first, last = seconds.get(args.warmup), seconds.get(args.warmup + args.steps)
    if first is None or last is None:
        raise SystemExit(f"the run logged no train event at step {args.warmup} or {args.warmup + args.steps}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"method": args.method, "preset": args.preset, "overrides": args.set, "threads": args.threads,
                      "steps_timed": args.steps, "seconds_per_step": round((last - first) / args.steps, 3),
                      "peak_rss_mb": round(peak_kb / 1024, 1), "loadavg_1min": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
