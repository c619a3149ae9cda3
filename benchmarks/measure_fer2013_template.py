"""Measure where FER2013's framing puts the 5 landmarks (the "fer2013" crop template).

Samples ~300 FERPlus FER2013Train images (48x48 gray; every 95th file in name order), upsamples
each to 192 px (bicubic), runs genfer.faces' detector + FaceMesh landmarker, keeps faces whose
landmarks come from the mesh, divides by 192 and prints JSON: mean / median / std of the 5
normalised points, their left-right symmetrised mean (the value hard-coded in
genfer/faces/align.py), and counts per detection / landmark source.

    python benchmarks/measure_fer2013_template.py [--data ../shared/data] [--step 95] [--limit 300]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from genfer.faces import FaceDetector, FaceLandmarker, load_image

UPSAMPLED = 192


def symmetrise(points: np.ndarray) -> np.ndarray:
    """Average (5, 2) points with their mirror image (x -> 1 - x, left/right swapped)."""
    mirror = points[[1, 0, 2, 4, 3]].copy()
    mirror[:, 0] = 1.0 - mirror[:, 0]
    return (points + mirror) / 2.0


def main(argv: list[str] | None = None) -> int:
    default_data = os.environ.get("GENFER_DATA", str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=default_data, help="shared data root (default: $GENFER_DATA or ../shared/data)")
    ap.add_argument("--step", type=int, default=95, help="take every STEP-th image")
    ap.add_argument("--limit", type=int, default=300, help="at most this many images")
    args = ap.parse_args(argv)

    folder = Path(args.data) / "ferplus" / "FER2013Train"
    files = sorted(folder.glob("fer*.png"))[:: args.step][: args.limit]
    if not files:
        print(f"no images in {folder}", file=sys.stderr)
        return 2

    detector, landmarker = FaceDetector(), FaceLandmarker()
    det_sources: collections.Counter[str] = collections.Counter()
    lm_sources: collections.Counter[str] = collections.Counter()
    points = []
    for f in files:
        img = cv2.resize(load_image(f), (UPSAMPLED, UPSAMPLED), interpolation=cv2.INTER_CUBIC)
        faces = landmarker(img, detector.detect(img)[:1])
        if not faces:
            det_sources["none"] += 1
            continue
        face = faces[0]
        det_sources[face.source] += 1
        lm_sources[face.landmarks_source] += 1
        if face.landmarks_source == "mesh":
            points.append(face.landmarks / UPSAMPLED)

    pts = np.stack(points).astype(np.float64)
    mean = pts.mean(axis=0)
    # robustness check: mean over faces whose eye distance is within the central 90%
    eye_dist = np.linalg.norm(pts[:, 1] - pts[:, 0], axis=1)
    lo, hi = np.percentile(eye_dist, [5, 95])
    trimmed = pts[(eye_dist >= lo) & (eye_dist <= hi)].mean(axis=0)
    result = {
        "images": len(files),
        "used": len(points),
        "detection_sources": dict(det_sources),
        "landmark_sources": dict(lm_sources),
        "mean": np.round(mean, 4).tolist(),
        "trimmed_mean": np.round(trimmed, 4).tolist(),
        "median": np.round(np.median(pts, axis=0), 4).tolist(),
        "std": np.round(pts.std(axis=0), 4).tolist(),
        "symmetric_mean": np.round(symmetrise(mean), 4).tolist(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
