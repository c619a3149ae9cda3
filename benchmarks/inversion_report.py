"""Inversion report in the layout of IFER's Table 1, on held-out faces, as JSON.

For each held-out set and method, the reconstruction's quality against the aligned input:

- ``mse``, ``psnr``, ``ssim``: images scaled to [0, 1];
- ``lpips*``: ``genfer-lpips`` over ``--lpips-model`` (offline; uniform weights over a genfer recognizer's
  stages; not comparable with published LPIPS), or LPIPS-alex/vgg with ``--lpips-net alex --lpips-weights F``;
- ``identity*``: cosine similarity of dlib face descriptors (genfer's port, 150 px chips) of input and
  reconstruction; ``identity*_of_different_faces`` gives its scale (each input against another face of the set:
  dlib's descriptors of small grayscale crops are all fairly similar);
- ``seconds_per_image``: inversion only (alignment excluded), at ``--threads`` threads, batches of ``--batch``.

Methods: ``encoder`` (the pSp encoder's W+ code), ``optimisation`` (``--steps`` Adam steps on W+ from the
average latent, the inversion losses of the model's config) and ``encoder+optimisation`` (the same steps
started from the encoder's code). Optimisation is slow, so it runs on the first ``--opt-limit`` faces of
each set; the encoder's figures on that subset are reported too (``encoder_on_opt_subset``), so the methods
compare on the same faces.

Sets: ``fer2013valid`` (FERPlus FER2013Valid crops, resized to the generator's resolution: the same framing
as its FER2013 training crops) and ``faces`` (the photos of ``$GENFER_DATA/faces``, detected and aligned to
the generator's crop template). Neither was seen in training.

The perceptual and identity networks of the metrics are the ones the pSp loss trains with unless
``--lpips-model`` names another: figures measured with a training loss's own network are optimistic.

    python benchmarks/inversion_report.py --model runs/psp-cpu/final [--limit 1000] [--opt-limit 64] [--steps 200]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from genfer.config import DataConfig
from genfer.io.images import normalize
from genfer.data.tensors import load_split
from genfer.inversion.faces import FaceInverter
from genfer.hub import LoadedModel
from genfer.inversion.load import inversion_parts, load_gan
from genfer.paths import data_root


def fer2013valid_crops(gan: LoadedModel, limit: int) -> torch.Tensor:
    """(N, C, S, S) uint8 FER2013Valid crops at the generator's resolution."""
    cfg = inversion_parts(gan).arch
    val = load_split(DataConfig(), "valid", limit, num_classes=8, image_size=cfg.resolution, in_chans=cfg.img_channels)
    return val.images


def photo_crops(inverter: FaceInverter, folder: Path, limit: int) -> torch.Tensor:
    """(N, C, S, S) uint8 aligned crops of the first face of each photo in ``folder`` (photos without one skipped)."""
    from genfer.faces.io import ImageReadError, load_image

    crops = []
    for path in sorted(folder.glob("*.jpg"))[: limit or None]:
        try:
            found = inverter.faces_of(load_image(path), aligned=False)
        except ImageReadError:
            continue
        if found:
            crops.append(found[0][2])
    arr = np.stack(crops)
    return torch.from_numpy(arr[:, None] if arr.ndim == 3 else arr.transpose(0, 3, 1, 2))


def invert(inverter: FaceInverter, crops: torch.Tensor, batch: int) -> tuple[torch.Tensor, float]:
    """Reconstructions (N, C, S, S) in [-1, 1] of uint8 crops, and seconds per image."""
    out, seconds = [], 0.0
    for i in range(0, len(crops), batch):
        x = normalize(crops[i : i + batch].float() / 255.0)
        t = time.perf_counter()
        _, images = inverter.invert_tensor(x)
        seconds += time.perf_counter() - t
        out.append(images.detach().clamp(-1, 1).cpu())
    return torch.cat(out), seconds / max(1, len(crops))


@torch.no_grad()
def quality(x: torch.Tensor, y: torch.Tensor, lpips: torch.nn.Module, embed: torch.nn.Module) -> dict[str, float]:
    """Mean metrics of reconstructions y against inputs x, both (N, C, S, S) in [-1, 1]."""
    from genfer.metrics.identity import identity_similarity
    from genfer.metrics.ssim import mse, psnr, ssim

    x01, y01 = (x.double() + 1) / 2, (y.double() + 1) / 2
    lp = torch.cat([lpips(y[i : i + 64], x[i : i + 64]) for i in range(0, len(x), 64)])
    ident = identity_similarity(embed, x, y)
    return {"mse": float(mse(y01, x01).mean()), "psnr": float(psnr(y01, x01, data_range=1.0).mean()),
            "ssim": float(ssim(y01, x01, data_range=1.0).mean()), "lpips*": float(lp.mean()),
            "identity*": float(ident.mean())}


def report_set(gan: LoadedModel, crops: torch.Tensor, args: argparse.Namespace, lpips, embed) -> dict:
    """Every method's metrics on one set of uint8 crops."""
    x = normalize(crops.float() / 255.0)
    sub = crops[: args.opt_limit]
    result: dict = {"faces": len(crops), "opt_subset_faces": len(sub),
                    # the scale of identity*: the same similarity between each input and the next (another person)
                    "identity*_of_different_faces": round(quality(x, x.roll(1, 0), lpips, embed)["identity*"], 4)}
    runs = []
    if inversion_parts(gan).encoder is not None:
        runs += [("encoder", FaceInverter(gan, batch_size=args.batch), crops),
                 ("encoder_on_opt_subset", FaceInverter(gan, batch_size=args.batch), sub)]
        if args.steps:
            runs.append(("encoder+optimisation",
                         FaceInverter(gan, refine_steps=args.steps, batch_size=args.batch, seed=args.seed), sub))
    if args.steps:
        runs.append(("optimisation", FaceInverter(replace(gan, psp=None), refine_steps=args.steps,
                                                  loss=inversion_parts(gan).loss, batch_size=args.batch, seed=args.seed), sub))
    for name, inverter, faces in runs:
        y, spi = invert(inverter, faces, args.batch)
        metrics = quality(x[: len(faces)], y, lpips, embed)
        result[name] = {**{k: round(v, 4) for k, v in metrics.items()}, "seconds_per_image": round(spi, 4)}
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="pSp model (a genfer train psp final/, run or shipped name)")
    ap.add_argument("--limit", type=int, default=1000, help="FER2013Valid faces (0: all)")
    ap.add_argument("--photos", type=int, default=0, help="photos of $GENFER_DATA/faces (0: all)")
    ap.add_argument("--opt-limit", type=int, default=64, help="faces per set for the optimisation methods")
    ap.add_argument("--steps", type=int, default=200, help="optimisation steps (0: encoder only)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lpips-net", default="genfer", choices=["genfer", "alex", "vgg"])
    ap.add_argument("--lpips-weights", help="LPIPS-alex/vgg weights file (lpips package key layout)")
    ap.add_argument("--lpips-model", default="fer2013-resnet18s-48", help="recognizer under genfer-lpips")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from genfer.metrics.lpips import build_lpips
    from genfer.models.face_id import FaceIDEmbedder, load_dlib_face_resnet

    t0 = time.perf_counter()
    gan = load_gan(args.model)
    lpips = build_lpips(args.lpips_net, weights=args.lpips_weights, model=args.lpips_model).eval()
    embed = FaceIDEmbedder(load_dlib_face_resnet()).eval()
    sets = {"fer2013valid": fer2013valid_crops(gan, args.limit),
            "faces": photo_crops(FaceInverter(gan, refine_steps=1), data_root() / "faces" / "images", args.photos)}
    report = {
        "model": str(args.model), "generator": inversion_parts(gan).arch.resolution, "threads": args.threads,
        "steps": args.steps, "loss": None if inversion_parts(gan).loss is None else asdict(inversion_parts(gan).loss),
        "lpips*": getattr(lpips, "name", args.lpips_net), "identity*": "dlib ResNet (genfer port), 150 px",
        "sets": {name: report_set(gan, crops, args, lpips, embed) for name, crops in sets.items()},
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
