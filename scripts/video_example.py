"""Write the example clip of docs/video.md from photos shipped in installed packages (no dataset needed).

Two scenes of two faces each, gliding over a background (:mod:`genfer.video.synthetic`): matplotlib's Grace
Hopper photo cropped to her face, genfer's generated smile, and their mirror images.

    python scripts/video_example.py clip.mp4 [--seconds 8] [--fps 10]
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import numpy as np

from genfer.faces.io import load_image
from genfer.video.synthetic import write_clip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--fps", type=float, default=10)
    args = ap.parse_args()
    hopper = load_image(Path(str(resources.files("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg")))
    hopper = hopper[60:400, 90:430]
    smile = load_image(Path(str(resources.files("genfer") / "assets" / "samples" / "generated_smile.png")))
    photos = [hopper, smile, np.ascontiguousarray(hopper[:, ::-1]), np.ascontiguousarray(smile[:, ::-1])]
    truth = write_clip(args.out, photos, seconds=args.seconds, fps=args.fps, faces_per_scene=2,
                       scene_seconds=args.seconds / 2, seed=3)
    print(f"{args.out}: {len(truth.boxes)} frames, {truth.tracks} true tracks")


if __name__ == "__main__":
    main()
