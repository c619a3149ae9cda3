"""How many ``--refine`` steps the demo's inversion row should take: quality against CPU seconds, as JSON.

For each step count (0 = the pSp encoder alone), the faces of ``genfer demo``'s packaged sample photos (and
optionally the first ``--valid`` FER2013Valid crops, without pixel copies of the generator's training faces) are
inverted the way ``genfer invert --refine STEPS`` does (:class:`~genfer.inversion.faces.FaceInverter`, one optimisation per photo's faces) and scored against the
aligned input with :func:`inversion_report.quality` (SSIM, MSE, PSNR, LPIPS*, identity*; see that script).
``cpu_seconds_per_face`` is the process's CPU time (user + system, all threads) per face, the one-off building
of the refinement's networks excluded (``criterion_cpu_seconds``).

    OMP_NUM_THREADS=1 python benchmarks/demo_refine.py [--steps 0 10 25 50 100 200] [--valid 8] [--save DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from inversion_report import fer2013valid_set, quality, training_sources

from genfer.config import DataConfig
from genfer.demo import sample_photos
from genfer.hub import REFERENCE_FER2013_RECOGNIZER
from genfer.inversion import DEFAULT_GAN
from genfer.inversion.faces import FaceInverter
from genfer.inversion.load import inversion_parts, load_gan
from genfer.io.images import to_tensor


def demo_faces(inverter: FaceInverter) -> np.ndarray:
    """(N, S, S[, 3]) uint8 aligned faces of the demo's sample photos (the composite left out: it repeats them)."""
    crops = [c for name, image in sample_photos() if "composite" not in name and "mirrored" not in name
             for _, _, c in inverter.faces_of(image, aligned=False)]
    return np.stack(crops)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=DEFAULT_GAN)
    ap.add_argument("--steps", type=int, nargs="+", default=[0, 10, 25, 50, 100, 200])
    ap.add_argument("--valid", type=int, default=0, help="FER2013Valid crops added to the demo's faces")
    ap.add_argument("--lpips-model", default=REFERENCE_FER2013_RECOGNIZER, help="recognizer under genfer-lpips")
    ap.add_argument("--save", help="folder for one PNG per step count: inputs on top, reconstructions below")
    args = ap.parse_args()
    from genfer.metrics.lpips import build_lpips
    from genfer.models.face_id import FaceIDEmbedder, load_dlib_face_resnet
    from genfer.render import grid_array, save_png

    gan = load_gan(args.model)
    lpips = build_lpips("genfer", model=args.lpips_model).eval()
    embed = FaceIDEmbedder(load_dlib_face_resnet()).eval()
    sets = {"demo": demo_faces(FaceInverter(gan))}
    if args.valid:
        arch = inversion_parts(gan).arch
        held = fer2013valid_set(DataConfig(), args.valid, training_sources(gan)[0], size=arch.resolution,
                                channels=arch.img_channels)
        valid = held.crops.numpy()
        sets["fer2013valid"] = valid[:, 0] if valid.shape[1] == 1 else valid.transpose(0, 2, 3, 1)
    report: dict = {"model": str(args.model), "threads": torch.get_num_threads(), "sets": {}}
    for name, crops in sets.items():
        x = to_tensor(crops)
        rows, results = [x], {}
        for steps in args.steps:
            inverter = FaceInverter(gan, refine_steps=steps)
            t = time.process_time()
            if steps:
                _ = inverter.criterion  # built once per command: counted apart
            built = time.process_time() - t
            t = time.process_time()
            out = inverter.invert_crops(crops)
            seconds = time.process_time() - t
            y = to_tensor(np.stack([recon for recon, _ in out]))
            rows.append(y)
            metrics = quality(x, y, lpips, embed)
            results[str(steps)] = {**{k: round(v, 4) for k, v in metrics.items()},
                                   "cpu_seconds_per_face": round(seconds / len(crops), 3),
                                   "criterion_cpu_seconds": round(built, 2)}
        report["sets"][name] = {"faces": len(crops), "identity*_of_different_faces":
                                round(quality(x, x.roll(1, 0), lpips, embed)["identity*"], 4), "steps": results}
        if args.save:
            save_png(grid_array(rows), Path(args.save) / f"{name}.png", scale=2)
    report["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
