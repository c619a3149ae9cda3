"""Make the explanations figure, docs/images/explain.png: ``genfer explain`` on the demo's sample photos.

One row per face of the two packaged sample photos that ``genfer demo`` uses (matplotlib's Grace Hopper and genfer's
generated smile): the aligned face as the recognizers take it, the default recognizer's Grad-CAM++ overlay and
PF-ViT's attention-rollout overlay, each captioned with the label, its probability and the method. The overlays
come from :func:`genfer.explain.explain_crops`, as in ``genfer explain`` and the demo report; nothing is retouched.

    python scripts/explain_figure.py [--out docs/images/explain.png] [--side 256] [--threads 1]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from genfer.hub import DEFAULT_RECOGNIZER

MODELS = (DEFAULT_RECOGNIZER, "pfvit")
"""The shipped recognizers shown: the default ResNet (Grad-CAM++) and PF-ViT (attention rollout of its encoder)."""

PHOTOS = 2
"""The first sample photos of :func:`genfer.demo.sample_photos` (the third, the composite, repeats their faces)."""


def tiles(photos: list[tuple[str, np.ndarray]], side: int) -> list[list[Image.Image]]:
    """Per face of the photos: [aligned input, one overlay per model in :data:`MODELS`]."""
    from genfer import Recognizer
    from genfer.explain import explain_crops
    from genfer.render import saliency_overlay

    rows: list[list[Image.Image]] = []
    for m, name in enumerate(MODELS):
        rec = Recognizer(name, backend="torch")
        k = 0
        for photo_name, image in photos:
            _, crops, _ = rec.find_faces(image)
            for crop, face in zip(crops, explain_crops(rec, crops, side=side)):
                if m == 0:
                    source = photo_name.split(" (")[0]
                    blank = np.zeros(crop.shape[:2], np.float32)
                    caption = f"{source}\naligned, {crop.shape[0]} px"
                    rows.append([saliency_overlay(crop, blank, caption, side=side, alpha=0.0)])
                rows[k].append(face.overlay)
                k += 1
    if any(len(r) != 1 + len(MODELS) for r in rows):
        raise SystemExit("the models' face pipelines found different faces; the figure needs the same ones")
    return rows


def figure(rows: list[list[Image.Image]], headers: list[str], gap: int = 10) -> Image.Image:
    """Tiles in a grid (rows of equal-size tiles) under one header per column, on white."""
    w, h = rows[0][0].size
    font = ImageFont.load_default(size=max(14, w // 12))
    top = font.size + 12
    out = Image.new("RGB", (len(headers) * (w + gap) - gap, top + len(rows) * (h + gap) - gap), "white")
    draw = ImageDraw.Draw(out)
    for c, text in enumerate(headers):
        x = c * (w + gap) + (w - draw.textlength(text, font=font)) / 2
        draw.text((x, 4), text, fill="black", font=font)
    for r, tiles_row in enumerate(rows):
        for c, tile in enumerate(tiles_row):
            out.paste(tile, (c * (w + gap), top + r * (h + gap)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images/explain.png", help="PNG to write")
    parser.add_argument("--side", type=int, default=256, help="size of each face tile, px")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()

    import torch

    from genfer.demo import sample_photos

    torch.set_num_threads(args.threads)
    rows = tiles(sample_photos()[:PHOTOS], args.side)
    figure(rows, ["input", *MODELS]).save(args.out, optimize=True)
    print(f"wrote {args.out}: {len(rows)} faces x {len(MODELS)} models")


if __name__ == "__main__":
    main()
