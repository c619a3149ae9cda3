"""Where PF-ViT's reconstruction error sits, and how visible its patch seams are: prints one JSON object.

    python benchmarks/pfvit_seams.py [--model pfvit] [--limit 256] [--threads 1]

On the first ``--limit`` FER2013Valid faces (never trained on):

- ``x_hat``: the MSE of x̂ = G(V_e + V_p) against the input ([-1, 1] pixels), split into the error of each patch's
  mean (``patch_mean_mse``: what a wrong per-patch brightness, e.g. G left in MAE's per-patch normalised output
  space, would give) and the error of the pattern within the patches (``within_patch_mse``), and the ratio of
  the patches' standard deviations (contrast) of x̂ to the input's;
- ``seams_*``: the mean absolute difference of horizontally adjacent pixels across patch borders and inside
  patches, for the input, x̂ and the poker face x̃. A seamless image has both about equal (real faces: ratio
  1.0); block artefacts show as ``across_borders`` well above ``inside_patches``.
"""

from __future__ import annotations

import argparse
import json

import torch

from genfer.config import DataConfig
from genfer.data.tensors import load_split
from genfer.hub import load_model
from genfer.io.images import normalize


def patches(images: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, C·p·p) non-overlapping p × p patches."""
    b, c = images.shape[:2]
    return images.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 1, 4, 5).reshape(b, -1, c * p * p)


def error_split(y: torch.Tensor, x: torch.Tensor, p: int) -> dict[str, float]:
    """MSE of y against x, its per-patch-mean and within-patch parts, and y's / x's patch contrast."""
    py, px = patches(y, p), patches(x, p)
    my, mx = py.mean(-1, keepdim=True), px.mean(-1, keepdim=True)
    return {"mse": float(((py - px) ** 2).mean()), "patch_mean_mse": float(((my - mx) ** 2).mean()),
            "within_patch_mse": float((((py - my) - (px - mx)) ** 2).mean()),
            "patch_std_ratio": float(py.std(-1).mean() / px.std(-1).mean())}


def seams(images: torch.Tensor, p: int) -> dict[str, float]:
    """Mean |horizontal neighbour difference| across patch borders and inside patches, and their ratio."""
    d = (images[..., :, 1:] - images[..., :, :-1]).abs()
    border = (torch.arange(d.shape[-1]) % p) == p - 1
    across, inside = float(d[..., border].mean()), float(d[..., ~border].mean())
    return {"across_borders": round(across, 4), "inside_patches": round(inside, 4), "ratio": round(across / inside, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pfvit")
    parser.add_argument("--limit", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    loaded = load_model(args.model, task="neutralize")
    enc = loaded.config.model.mae.encoder
    val = load_split(DataConfig(), "valid", args.limit, num_classes=loaded.num_classes, image_size=enc.image_size,
                     in_chans=enc.in_chans)
    x = normalize(val.images.float() / 255)
    with torch.no_grad():
        out = loaded.model.render(x)
    p = enc.patch_size
    print(json.dumps({"model": str(args.model), "faces": len(x), "patch_size": p,
                      "x_hat": {k: round(v, 5) for k, v in error_split(out["x_hat"], x, p).items()},
                      "seams_input": seams(x, p), "seams_x_hat": seams(out["x_hat"], p),
                      "seams_poker_face": seams(out["x_tilde"], p)}, indent=1))


if __name__ == "__main__":
    main()
