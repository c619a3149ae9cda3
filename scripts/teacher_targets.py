"""Teacher probabilities for distillation: an ensemble's averaged (optionally flip-TTA) probabilities on the
training images, saved as ``.npz`` (``ids`` (N,), ``probs`` (N, K), ``models``) for ``data.teacher``.

    python scripts/teacher_targets.py --models fer-resnet18s-48,runs/seed2/final --tta --out teacher.npz
    genfer train --preset cpu --set data.teacher=teacher.npz --set data.teacher_weight=0.5 --out runs/distill

The teachers must share the student's classes (8 FERPlus classes for the ``cpu`` preset). Ids are the dataset's
(the FERPlus training PNG names), which is how ``genfer.data.tensors.mix_teacher`` matches them.
"""

import argparse

import numpy as np
import torch

from genfer.api import Recognizer
from genfer.data.arrays import split_tensor
from genfer.data.registry import open_dataset
from genfer.paths import dataset_root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", required=True, help="comma-separated model names or folders (the ensemble)")
    ap.add_argument("--dataset", default="ferplus")
    ap.add_argument("--split", default="train")
    ap.add_argument("--tta", action="store_true", help="average each model with its mirrored input")
    ap.add_argument("--limit", type=int, default=0, help="only the first N labelled images (smoke tests)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    faces = open_dataset(args.dataset, dataset_root(args.dataset, None), args.split)
    keep = np.flatnonzero(faces.labels >= 0)
    faces = faces.subset(keep[: args.limit] if args.limit else keep)
    total, classes = None, None
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    for name in names:
        rec = Recognizer(name, hflip_tta=args.tta, batch_size=256)
        if classes is not None and rec.classes != classes:
            raise SystemExit(f"{name} has classes {rec.classes}, the first teacher {classes}")
        classes = rec.classes
        crops = split_tensor(faces, rec.image_size, rec.channels, progress=True)
        arr = crops.squeeze(1).numpy() if rec.channels == 1 else crops.permute(0, 2, 3, 1).numpy()
        probs = rec.predict_crops(arr)
        total = probs if total is None else total + probs
        print(f"{name}: accuracy on its own training labels {(probs.argmax(1) == faces.labels).mean():.4f}")
    np.savez_compressed(args.out, ids=np.array(faces.ids), probs=(total / len(names)).astype(np.float32),
                        models=np.array(names), classes=np.array(classes))
    print(f"wrote {args.out}: {len(faces)} images, {len(classes)} classes, {len(names)} teacher(s)")


if __name__ == "__main__":
    main()
