#!/usr/bin/env python3
"""Choose the strengths of latent editing for a generator: how Eq. 2's k and Eq. 1's k act on held-out faces.

On the first ``--n`` non-neutral FER2013Valid faces that are not pixel copies of FERPlus training images (aligned
crops), inverted once by ``--inverter``:

* neutralisation (Eq. 2) at each k of ``--neutral-k``: the share of outputs genfer's recognizer reads as neutral,
  their mean neutral probability, and the identity kept (dlib cosine of input and output; the scale: two different
  faces of the set);
* editing (Eq. 1) at each k of ``--edit-k``: per emotion, the share of edited faces read as that emotion.

Prints one JSON object. Example::

    python benchmarks/latent_strength.py --directions runs/directions-psp-gray64 --n 200 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--directions", required=True)
    p.add_argument("--inverter", default="psp")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--neutral-k", default="0,0.5,1,1.5,2,3")
    p.add_argument("--edit-k", default="1,2,3")
    p.add_argument("--data", default=os.environ.get("GENFER_DATA", "/work/shared/data"))
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    import numpy as np
    import torch

    from genfer.data.registry import open_dataset
    from genfer.evaluate import duplicates_in_split
    from genfer.io.images import normalize, to_tensor
    from genfer.metrics.identity import identity_similarity
    from genfer.models.face_id import FaceIDEmbedder, load_dlib_face_resnet
    from genfer.pipelines.latent import Editor

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    val = open_dataset("ferplus", Path(args.data) / "ferplus", "valid")
    copies = duplicates_in_split(val, "ferplus", Path(args.data) / "ferplus", "train")
    idx = [i for i in range(len(val.labels)) if val.labels[i] > 0 and not copies[i]][: args.n]  # 0: neutral, -1: none
    ed = Editor(args.inverter, args.directions)
    crops = np.stack([ed.faces.aligned_crop(np.asarray(val.loader(i).convert("RGB"))) for i in idx])
    code = ed.codes.invert(to_tensor(crops))
    names = ed.recognizer.classes
    neutral = names.index("neutral")
    embed = FaceIDEmbedder(load_dlib_face_resnet())
    x = normalize(torch.from_numpy(crops).float().unsqueeze(1) / 255.0)

    def identity(images: np.ndarray) -> float:
        y = normalize(torch.from_numpy(images).float().unsqueeze(1) / 255.0)
        return round(float(identity_similarity(embed, x, y).mean()), 4)

    recon = ed.render_images(code)
    p_in = ed.recognizer.predict_crops(crops)
    report = {"faces": len(idx), "inverter": ed.loaded.name, "directions": args.directions,
              "inputs_read_as_neutral": round(float((p_in.argmax(1) == neutral).mean()), 4),
              "reconstructions_read_as_neutral": round(float((ed.recognizer.predict_crops(recon).argmax(1)
                                                              == neutral).mean()), 4),
              "identity_reconstruction": identity(recon), "identity_different_faces":
                  round(float(identity_similarity(embed, x, x.roll(1, 0)).mean()), 4),
              "neutralize": {}, "edit": {}}
    for k in (float(v) for v in args.neutral_k.split(",") if v):
        ed.neutral_strength = k
        out = ed.render_images(ed.neutral_code(code))
        probs = ed.recognizer.predict_crops(out)
        report["neutralize"][str(k)] = {"read_as_neutral": round(float((probs.argmax(1) == neutral).mean()), 4),
                                        "mean_p_neutral": round(float(probs[:, neutral].mean()), 4),
                                        "identity": identity(out)}
    for k in (float(v) for v in args.edit_k.split(",") if v):
        hits = {}
        for e, name in enumerate(names):
            probs = ed.recognizer.predict_crops(ed.render_images(ed.edit_code(code, name, k)))
            hits[name] = round(float((probs.argmax(1) == e).mean()), 4)
        report["edit"][str(k)] = hits
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
