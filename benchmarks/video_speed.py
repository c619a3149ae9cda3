"""Video: frames/s of ``genfer recognize clip.mp4`` at every frame and ``--every 5``, track-id switches on a clip with
known tracks, and peak memory on a short and a long clip (it must not grow with the length). Prints one JSON object.

The clips are made from real photos (``$GENFER_DATA/faces/images``, the ones at least 150 px wide): 640x480 at
25 frames/s, a slideshow of 4-second scenes with two faces gliding in their own lanes (new faces each scene), see
:mod:`genfer.video.synthetic`. Speed and id switches are measured in this process after the models are loaded;
peak memory runs ``genfer recognize CLIP --every K --csv OUT`` as a child process per clip (its ``ru_maxrss``).

    python benchmarks/video_speed.py [--seconds 20] [--long-seconds 600] [--memory-every 25] [--threads 1] [--skip-memory]

Frames per CPU-second (the process's CPU time) are reported beside frames per wall-clock second: on a loaded
machine the first stay meaningful.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genfer.faces.io import load_image
from genfer.paths import data_root
from genfer.video.synthetic import id_switches, match_tracks, write_clip

CHILD = ("import resource, sys; from genfer.cli import main; code = main(sys.argv[1:]); "
         "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)")


def photos() -> list:
    folder = data_root() / "faces" / "images"
    out = []
    for path in sorted(folder.glob("*.jpg")):
        image = load_image(path)
        if min(image.shape[:2]) >= 150:
            out.append(image)
    if len(out) < 4:
        sys.exit(f"need real face photos in {folder}")
    return out


def speed(clip: Path, truth, every: int) -> dict:
    from genfer.api import Recognizer
    from genfer.video.recognize import VideoRecognizer

    rec = Recognizer()
    rec.pipeline.process(load_image(clip.with_suffix(".png")))  # load the face models before timing
    found, processed, faces = {}, 0, 0
    t, cpu = time.perf_counter(), time.process_time()
    for frame in VideoRecognizer(rec, every=every).iter_frames(clip):
        found[frame.index] = [(f.track, f.face.box) for f in frame.faces]
        processed, faces = processed + 1, faces + len(frame.faces)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    ids = match_tracks(truth, found)
    return {"every": every, "processed_frames": processed, "faces": faces, "seconds": round(wall, 2),
            "processed_frames_per_s": round(processed / wall, 2),
            "video_frames_per_s": round(len(truth.boxes) / wall, 2), "cpu_seconds": round(cpu, 2),
            "processed_frames_per_cpu_s": round(processed / cpu, 2),
            "video_frames_per_cpu_s": round(len(truth.boxes) / cpu, 2),
            "true_tracks": truth.tracks, "tracks_found": len({i for v in found.values() for i, _ in v}),
            "true_faces_matched": sum(len(v) for v in ids.values()), "id_switches": id_switches(ids)}


def peak_memory(clip: Path, every: int, threads: int, out: Path) -> dict:
    cmd = [sys.executable, "-c", CHILD, "recognize", str(clip), "--every", str(every), "--csv", str(out), "--quiet",
           "--threads", str(threads)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode:
        sys.exit(proc.stderr[-2000:])
    rss = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("MAXRSS"))
    rows = sum(1 for _ in out.open()) - 1
    return {"every": every, "rows": rows, "seconds": round(wall, 1), "peak_rss_mb": round(rss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20, help="length of the speed / tracking clip")
    ap.add_argument("--long-seconds", type=float, default=600, help="length of the long clip (memory)")
    ap.add_argument("--memory-every", type=int, default=25, help="--every of the memory runs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-memory", action="store_true", help="only speed and id switches")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    faces = photos()
    report: dict = {"benchmark": "video_speed", "size": "640x480", "fps": 25, "threads": args.threads,
                    "photos": len(faces)}
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        truth = write_clip(clip, faces, seconds=args.seconds, seed=1)
        from genfer.video.decode import read_frames
        from PIL import Image

        Image.fromarray(next(read_frames(clip)).image).save(clip.with_suffix(".png"))
        report["clip_seconds"] = args.seconds
        report["speed"] = [speed(clip, truth, every) for every in (1, 5)]
        if args.skip_memory:
            print(json.dumps(report, indent=2))
            return
        long_clip = Path(tmp) / "long.mp4"
        t = time.perf_counter()
        write_clip(long_clip, faces, seconds=args.long_seconds, seed=2, keep_boxes=False)
        report["long_clip"] = {"seconds": args.long_seconds, "write_s": round(time.perf_counter() - t, 1),
                               "mb": round(long_clip.stat().st_size / 2**20, 1)}
        report["memory"] = {"short": {"clip_seconds": args.seconds,
                                      **peak_memory(clip, args.memory_every, args.threads, Path(tmp) / "s.csv")},
                            "long": {"clip_seconds": args.long_seconds,
                                     **peak_memory(long_clip, args.memory_every, args.threads, Path(tmp) / "l.csv")}}
    report["load_average_1min"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
