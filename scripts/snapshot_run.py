#!/usr/bin/env python3
"""Keep a long run's resume point in the repository (``snapshots/NAME``), for a machine whose ``~/genfer-runs`` may
not survive the session.

Writes the run's latest checkpoint (or ``final/``) as fp16 inference weights, with its discriminator when the run
keeps one, and beside them the run's ``metrics.jsonl`` and ``snapshot.json`` (which checkpoint, its step and when).
``--best`` also writes the run's ``best/`` (a generator run's best evaluation so far) as ``NAME-best``. Continue
from a snapshot with the run's ``init_from=snapshots/NAME`` (the optimiser state is not kept)::

    python scripts/snapshot_run.py ~/genfer-runs/stylegan2-cpu stylegan2-cpu --keep-discriminator --best
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

from genfer.hub import find_model_folder, ship_model
from genfer.train.best import SNAPSHOT_FILE

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots"


def _step_of(folder: Path) -> dict:
    """What a checkpoint folder records of its place in the run: ``{"step": N}`` from a ``ckpt-N`` name, or a
    ``best/`` folder's own ``snapshot.json`` (metric, value, step, position)."""
    match = re.fullmatch(r"ckpt-(\d+)", folder.name)
    if match:
        return {"step": int(match.group(1))}
    own = folder / SNAPSHOT_FILE
    return json.loads(own.read_text()) if own.is_file() else {}


def snapshot(run: Path, name: str, *, keep_discriminator: bool, dest_root: Path = SNAPSHOTS) -> Path:
    """Write ``dest_root/name`` from the run's newest checkpoint; returns the folder written."""
    source = find_model_folder(run)
    dest = ship_model(source, name, dest_root=dest_root, keep_discriminator=keep_discriminator)
    if (run / "metrics.jsonl").is_file():
        shutil.copyfile(run / "metrics.jsonl", dest / "metrics.jsonl")
    record = {"run": str(run), "checkpoint": source.name, **_step_of(source),
              "written": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    (dest / "snapshot.json").write_text(json.dumps(record, indent=1) + "\n")
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the run folder (e.g. ~/genfer-runs/stylegan2-cpu)")
    ap.add_argument("name", help="the snapshot's folder name under snapshots/")
    ap.add_argument("--keep-discriminator", action="store_true", help="also keep the run's discriminator")
    ap.add_argument("--best", action="store_true", help="also write the run's best/ as NAME-best")
    ap.add_argument("--dest", type=Path, default=SNAPSHOTS, help="where NAME is written (default: snapshots/)")
    args = ap.parse_args(argv)
    keep = {"keep_discriminator": args.keep_discriminator, "dest_root": args.dest}
    written = [snapshot(args.run, args.name, **keep)]
    if args.best and (args.run / "best").is_dir():
        written.append(snapshot(args.run / "best", f"{args.name}-best", **keep))
    for folder in written:
        print(f"{folder}: {json.loads((folder / 'snapshot.json').read_text())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
