"""GC ViT attention maps of an ASIT encoder on face photos (the paper's Fig. 1), as one PNG and a JSON line.

Each photo's first face is aligned to the generator's crop template (as ``genfer invert`` does); for every stage of
the encoder's GC ViT backbone, :func:`genfer.models.asit.gcvit_attention_maps` gives the attention each position
receives (averaged over heads, queries and the stage's blocks; global-query blocks attend with the image's global
query), blended over the face. One row per photo: the aligned face, then one overlay per stage (fine to coarse).

    python benchmarks/asit_attention.py --model runs/asit-cpu/final --out docs/images/asit-attention.png \
        [PHOTO ...]   (default: the first 4 photos of $GENFER_DATA/faces/images)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genfer.faces.io import load_image
from genfer.inversion.faces import FaceInverter
from genfer.inversion.load import inversion_parts, load_gan
from genfer.io.images import normalize
from genfer.models.asit import ASITEncoder, gcvit_attention_maps
from genfer.models.psp import resize_to
from genfer.paths import data_root
from genfer.render import saliency_overlay


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("photos", nargs="*", type=Path)
    ap.add_argument("--model", required=True, help="an ASIT model (genfer train asit final/, run or shipped name)")
    ap.add_argument("--out", type=Path, default=Path("asit-attention.png"))
    ap.add_argument("--side", type=int, default=160, help="side of each tile in the PNG")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    gan = load_gan(args.model)
    encoder = inversion_parts(gan).encoder
    if not isinstance(encoder, ASITEncoder):
        raise SystemExit(f"{args.model} is not an ASIT model")
    photos = args.photos or sorted((data_root() / "faces" / "images").glob("*.jpg"))[:4]
    inverter = FaceInverter(gan, refine_steps=1)  # only its face alignment is used
    rows, used = [], []
    for path in photos:
        found = inverter.faces_of(load_image(path), aligned=False)
        if not found:
            continue
        crop = found[0][2]
        x = normalize(torch.from_numpy(crop).float().div(255).reshape(1, -1, *crop.shape[:2]))
        x = resize_to(x, encoder.input_size)
        tiles = [saliency_overlay(crop, np.zeros(crop.shape[:2]), "aligned", side=args.side, alpha=0.0)]
        for stage in range(len(encoder.backbone.stages)):
            heat = gcvit_attention_maps(encoder.backbone, x, stage=stage)[0].numpy()
            tiles.append(saliency_overlay(crop, heat, f"stage {stage} ({heat.shape[0]}px)", side=args.side))
        rows.append(tiles)
        used.append(str(path))
    if not rows:
        raise SystemExit("no face found in the photos")
    w, h = rows[0][0].size
    sheet = Image.new("RGB", (w * len(rows[0]), h * len(rows)))
    for r, tiles in enumerate(rows):
        for c, tile in enumerate(tiles):
            sheet.paste(tile, (c * w, r * h))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(json.dumps({"model": str(args.model), "out": str(args.out), "photos": used,
                      "stages": len(rows[0]) - 1, "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
