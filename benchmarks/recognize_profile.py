"""Where ``genfer recognize`` spends its time: per-stage milliseconds per image on photos and on aligned crops.

Runs :meth:`genfer.Recognizer.predict` under cProfile over the ``$GENFER_DATA/faces`` photos and over FERPlus
validation PNGs taken as aligned crops (``--aligned``), and reports the cumulative time of each stage (decode,
detect, landmarks, gate, warp, network; process CPU milliseconds per image, all threads, a stage's time including
what it calls), images/s end to end (wall clock, profiled and unprofiled), and the process's peak resident memory. Prints one JSON object.

    python benchmarks/recognize_profile.py [--photos 40] [--crops 512] [--threads 2] [--backend auto]
"""

import argparse
import cProfile
import json
import pstats
import resource
import time

import torch

from genfer.api import Recognizer, expand_inputs
from genfer.paths import data_root

STAGES = {  # stage -> (file suffix, function name) whose cumulative time it is
    "decode": [("faces/io.py", "load_image")],
    "detect": [("faces/detect.py", "stages"), ("faces/detect.py", "detect"), ("faces/detect.py", "whole_image_face")],
    "landmarks": [("faces/landmarks.py", "__call__")],
    "gate": [("faces/gate.py", "__call__")],
    "warp": [("faces/pipeline.py", "align")],
    "network": [("genfer/api.py", "predict_crops")],
}


def stage_ms(stats: pstats.Stats, n: int) -> dict[str, float]:
    """Cumulative milliseconds per image of each stage (generator stages count their own resumptions)."""
    out = {}
    for stage, keys in STAGES.items():
        total = sum(ct for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items()  # type: ignore[attr-defined]
                    if any(file.endswith(suffix) and func == name for suffix, name in keys))
        out[stage] = round(1000 * total / n, 2)
    return out


def profile(rec: Recognizer, items: list, aligned: bool) -> dict:
    rec.predict(items[:2], aligned=aligned)  # warm-up: loads the detectors, builds the backend
    profiler = cProfile.Profile(time.process_time)  # CPU time: less disturbed by other processes than wall time
    start = time.perf_counter()
    profiler.runcall(rec.predict, items, aligned=aligned)
    profiled = time.perf_counter() - start
    start = time.perf_counter()
    results = rec.predict(items, aligned=aligned)
    plain = time.perf_counter() - start
    return {"images": len(items), "faces": sum(len(r.faces) for r in results),
            "images_per_s": round(len(items) / plain, 1), "images_per_s_profiled": round(len(items) / profiled, 1),
            "cpu_ms_per_image": stage_ms(pstats.Stats(profiler), len(items))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--crops", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backend", default="auto")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rec = Recognizer(backend=args.backend)
    out = {"model": rec.loaded.name, "threads": args.threads,
           "note": "CPU shared with training runs: timings are noisy"}
    photos = expand_inputs([data_root() / "faces" / "images"])[: args.photos]
    crops = expand_inputs([data_root() / "ferplus" / "FER2013Valid"])[: args.crops]
    out["photos"] = profile(rec, photos, aligned=False)
    out["aligned_crops"] = profile(rec, crops, aligned=True)
    out["backend"] = rec.backend.describe()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
