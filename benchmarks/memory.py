"""Peak memory (RSS) and speed of ``genfer recognize`` over a folder of 1,000 real photos.

Builds a temporary folder of symlinks to the first photos of ``$GENFER_DATA/faces/images`` and
``$GENFER_DATA/faces128/images``, runs ``genfer recognize FOLDER --json`` as a child process and
reports its peak resident memory (``getrusage`` of children). Prints one JSON object.

    python benchmarks/memory.py [--n 1000] [--model NAME] [--threads 2]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genfer.paths import data_root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    sources = sorted((data_root() / "faces" / "images").glob("*.jpg")) + \
        sorted((data_root() / "faces128" / "images").glob("*.jpg"))
    if len(sources) < args.n:
        sys.exit(f"only {len(sources)} photos under {data_root()}")
    with tempfile.TemporaryDirectory() as tmp:
        for i, src in enumerate(sources[: args.n]):
            os.symlink(src, Path(tmp) / f"{i:05d}_{src.name}")
        cmd = [sys.executable, "-m", "genfer.cli", "recognize", tmp, "--json", "--threads", str(args.threads)]
        if args.model:
            cmd += ["--model", args.model]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(proc.stderr.strip().splitlines()[-1])
    results = json.loads(proc.stdout)["results"]  # one object: {"n", "errors", "unreadable", "results"}
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({
        "photos": len(results),
        "faces": sum(len(r["faces"]) for r in results),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "seconds": round(seconds, 1),
        "photos_per_s": round(len(results) / seconds, 1),
        "threads": args.threads,
    }, indent=2))


if __name__ == "__main__":
    main()
