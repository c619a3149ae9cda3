"""Inversion report in the layout of IFER's Table 1, on held-out faces, as JSON.

For each held-out set and method, the reconstruction's quality against the aligned input:

- ``mse``, ``psnr``, ``ssim``: images scaled to [0, 1];
- ``lpips*``: ``genfer-lpips`` over ``--lpips-model`` (offline; uniform weights over a genfer recognizer's
  stages; not comparable with published LPIPS), or LPIPS-alex/vgg with ``--lpips-net alex --lpips-weights F``;
- ``identity*``: cosine similarity of dlib face descriptors (genfer's port, 150 px chips) of input and
  reconstruction; ``identity*_of_different_faces`` gives its scale (each input against another face of the set:
  dlib's descriptors of small grayscale crops are all fairly similar);
- ``fid*``: the Fréchet distance (genfer's :mod:`genfer.metrics.frechet`) between the features of the row's
  reconstructions and of the same held-out inputs, with the extractor named in ``fid_extractor``
  (``--fid-extractor``: ``genfer-fer:<--fid-model>``, a genfer recognizer's pooled features, NOT comparable with
  Inception FIDs; or ``inception`` with ``--inception-weights``); ``fid_images`` is the number of image pairs.
  Caveat: a Fréchet distance needs many more images than feature dimensions (``fid_feature_dim``) for a stable
  covariance. The ``faces`` set (~185 photos) and the optimisation subset (``--opt-limit``, 64 by default) have
  fewer, so their covariances are singular and their ``fid*`` is strongly biased upwards and noisy: compare such
  figures only between rows with the same ``fid_images``, never with the generator's 1,000-image FID*. Where the
  distance cannot be computed at all, ``fid*`` is null and ``fid*_error`` says why;
- ``seconds_per_image``: inversion only (alignment excluded), at ``--threads`` threads, batches of ``--batch``.

Methods: ``encoder`` (the pSp encoder's W+ code), ``optimisation`` (``--steps`` Adam steps on W+ from the
average latent, the inversion losses of the model's config) and ``encoder+optimisation`` (the same steps
started from the encoder's code). Optimisation is slow, so it runs on the first ``--opt-limit`` faces of
each set; the encoder's figures on that subset are reported too (``encoder_on_opt_subset``), so the methods
compare on the same faces.

Sets: ``fer2013valid`` (FERPlus FER2013Valid crops, resized to the generator's resolution: the same framing
as its FER2013 training crops) and ``faces`` (the photos of ``$GENFER_DATA/faces``, detected and aligned to
the generator's crop template). Neither split was trained on, but FER2013 has pixel-identical images across its
splits, so every held-out image whose decoded pixels equal those of an image of the training sources (listed in
``duplicates_of``: the model's own run config's ``sources`` and, when its generator's run config can be read
(``generator_sources_read``), the generator's) is removed first (:func:`genfer.evaluate.duplicate_mask`, as
``genfer eval --exclude-duplicates-of``); each set gives ``faces_before_duplicate_removal`` and
``duplicates_removed``. Removal is always on. ``--limit`` and ``--photos``
count images before removal. The ``faces`` photos are LFW-style photos, not FER2013 crops: they are checked
against the same sources (``faces128`` holds photos of the same kind), but the check finds exact pixel copies only;
a resized or re-encoded copy, or another photo of the same person, is not caught (file names show that 80 of the
134 people of ``faces/`` also have photos in ``faces128``, so the ``faces`` rows are photo-disjoint from training but
not person-disjoint).

The perceptual and identity networks of the metrics are the ones the pSp loss trains with unless
``--lpips-model`` names another: figures measured with a training loss's own network are optimistic. The same
holds for ``--fid-model``; its default, ``fer2013-resnet18s-48``, is not the shipped encoders' loss network.

    python benchmarks/inversion_report.py --model runs/psp-cpu/final [--limit 1000] [--opt-limit 64] [--steps 200]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from genfer.config import DEFAULT_SOURCES, DataConfig, ImageSource
from genfer.data.arrays import split_tensor
from genfer.data.base import FaceImages, drop_unreadable
from genfer.data.pool import open_source
from genfer.data.tensors import open_labelled
from genfer.evaluate import duplicate_mask
from genfer.hub import REFERENCE_FER2013_RECOGNIZER, LoadedModel, read_model_config
from genfer.inversion.faces import FaceInverter
from genfer.inversion.load import inversion_parts, load_gan
from genfer.io import CheckpointError
from genfer.io.images import normalize
from genfer.labels import EMOTIONS
from genfer.metrics.features import stats_from_features
from genfer.metrics.frechet import FrechetDistanceError, frechet_distance_stats
from genfer.paths import data_root


@dataclass
class HeldOutSet:
    """A held-out set: aligned uint8 crops (N, C, S, S), and the count of images before and removed by the
    training-duplicate check."""

    crops: torch.Tensor
    before: int
    duplicates_removed: int


def training_sources(gan: LoadedModel) -> tuple[tuple[ImageSource, ...], bool]:
    """The image sources the model trained on: its run config's ``sources`` plus, when the run config of its
    ``generator`` can be read, the generator's (``DEFAULT_SOURCES`` if neither names any); and whether the
    generator's were read."""
    sources = list(getattr(gan.config, "sources", ()))
    generator, read = getattr(gan.config, "generator", ""), False
    if generator:
        try:
            sources += getattr(read_model_config(generator)[1], "sources", ())
            read = True
        except CheckpointError:
            pass
    return tuple(dict.fromkeys(sources)) or DEFAULT_SOURCES, read


def source_name(source: ImageSource) -> str:
    """``dataset:root:split`` as written in a run config (empty parts kept)."""
    return f"{source.dataset}:{source.root}:{source.split}"


def drop_training_duplicates(faces: FaceImages, sources: tuple[ImageSource, ...]) -> tuple[FaceImages, int]:
    """``faces`` without every image that is a pixel copy of an image of ``sources``, and how many were removed."""
    copies = np.zeros(len(faces), bool)
    for source in sources:
        copies |= duplicate_mask(faces, open_source(source))
    return faces.subset(~copies), int(copies.sum())


def fer2013valid_set(data: DataConfig, limit: int, sources: tuple[ImageSource, ...], *, size: int,
                     channels: int) -> HeldOutSet:
    """The first ``limit`` labelled faces of ``data``'s ``valid`` split (FER2013Valid for the default) at ``size`` px,
    without the training duplicates."""
    faces = open_labelled(data, "valid", limit)
    kept, removed = drop_training_duplicates(faces, sources)
    return HeldOutSet(split_tensor(kept, size, channels), len(faces), removed)


def photo_set(inverter: FaceInverter, folder: Path, limit: int, sources: tuple[ImageSource, ...]) -> HeldOutSet:
    """Aligned crops of the first face of each of the first ``limit`` photos in ``folder`` (0: all) that is not a
    training duplicate (photos that cannot be read or have no face are skipped)."""
    from genfer.faces.io import ImageReadError, load_image

    paths = sorted(folder.glob("*.jpg"))[: limit or None]
    photos, _ = drop_unreadable(FaceImages.from_files(f"{folder.parent.name}/{folder.name}", EMOTIONS, paths,
                                                       [-1] * len(paths)))
    kept, removed = drop_training_duplicates(photos, sources)
    crops = []
    for path in kept.paths or []:
        try:
            found = inverter.faces_of(load_image(path), aligned=False)
        except ImageReadError:
            continue
        if found:
            crops.append(found[0][2])
    arr = np.stack(crops)
    return HeldOutSet(torch.from_numpy(arr[:, None] if arr.ndim == 3 else arr.transpose(0, 3, 1, 2)), len(paths),
                      removed)


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


@torch.inference_mode()
def features(extractor: torch.nn.Module, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """(N, D) features of images (N, C, S, S) in [-1, 1]."""
    return torch.cat([extractor(images[i : i + batch]) for i in range(0, len(images), batch)])


def fid_star(extractor: str, inputs: torch.Tensor, reconstructions: torch.Tensor) -> dict:
    """``fid*`` (genfer's Fréchet distance) between two (N, D) feature sets of ``extractor``, and ``fid_images`` N;
    ``fid*`` is None and ``fid*_error`` says why when the distance cannot be computed."""
    try:
        value = frechet_distance_stats(stats_from_features(inputs, extractor), stats_from_features(reconstructions,
                                                                                                   extractor))
    except FrechetDistanceError as exc:
        return {"fid*": None, "fid*_error": str(exc), "fid_images": len(inputs)}
    return {"fid*": round(value, 4), "fid_images": len(inputs)}


def method_row(x: torch.Tensor, y: torch.Tensor, x_features: torch.Tensor, seconds: float, lpips, embed,
               extractor) -> dict:
    """One method's row: :func:`quality` and ``fid*`` of reconstructions y against inputs x (N, C, S, S) in [-1, 1],
    ``x_features`` (N, D) the extractor's features of x, and the seconds per image."""
    row = {k: round(v, 4) for k, v in quality(x, y, lpips, embed).items()}
    fid = fid_star(extractor.name, x_features, features(extractor, y))
    return {**row, **fid, "seconds_per_image": round(seconds, 4)}


def report_set(gan: LoadedModel, held: HeldOutSet, args: argparse.Namespace, lpips, embed, extractor) -> dict:
    """Every method's metrics on one held-out set."""
    crops = held.crops
    x = normalize(crops.float() / 255.0)
    x_features = features(extractor, x)
    sub = crops[: args.opt_limit]
    result: dict = {"faces": len(crops), "faces_before_duplicate_removal": held.before,
                    "duplicates_removed": held.duplicates_removed, "opt_subset_faces": len(sub),
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
        generator_alone = replace(gan, model=inversion_parts(gan).generator)  # from the average latent
        runs.append(("optimisation", FaceInverter(generator_alone, refine_steps=args.steps,
                                                  loss=inversion_parts(gan).loss, batch_size=args.batch,
                                                  seed=args.seed), sub))
    for name, inverter, faces in runs:
        y, spi = invert(inverter, faces, args.batch)
        n = len(faces)
        result[name] = method_row(x[:n], y, x_features[:n], spi, lpips, embed, extractor)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="pSp model (a genfer train psp final/, run or shipped name)")
    ap.add_argument("--limit", type=int, default=1000, help="FER2013Valid faces before duplicate removal (0: all)")
    ap.add_argument("--photos", type=int, default=0,
                    help="photos of $GENFER_DATA/faces before duplicate removal (0: all)")
    ap.add_argument("--opt-limit", type=int, default=64, help="faces per set for the optimisation methods")
    ap.add_argument("--steps", type=int, default=200, help="optimisation steps (0: encoder only)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lpips-net", default="genfer", choices=["genfer", "alex", "vgg"])
    ap.add_argument("--lpips-weights", help="LPIPS-alex/vgg weights file (lpips package key layout)")
    ap.add_argument("--lpips-model", default=REFERENCE_FER2013_RECOGNIZER, help="recognizer under genfer-lpips")
    ap.add_argument("--fid-extractor", default="genfer-fer", choices=["genfer-fer", "inception"])
    ap.add_argument("--fid-model", default=REFERENCE_FER2013_RECOGNIZER, help="recognizer of the genfer-fer FID* features")
    ap.add_argument("--inception-weights", help="FID Inception-v3 weights file (--fid-extractor inception)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from genfer.metrics.extractors import build_extractor
    from genfer.metrics.lpips import build_lpips
    from genfer.models.face_id import FaceIDEmbedder, load_dlib_face_resnet

    t0 = time.perf_counter()
    gan = load_gan(args.model)
    arch = inversion_parts(gan).arch
    lpips = build_lpips(args.lpips_net, weights=args.lpips_weights, model=args.lpips_model).eval()
    embed = FaceIDEmbedder(load_dlib_face_resnet()).eval()
    extractor = build_extractor(args.fid_extractor, model=args.fid_model, inception_weights=args.inception_weights)
    sources, generator_read = training_sources(gan)
    sets = {"fer2013valid": fer2013valid_set(DataConfig(), args.limit, sources, size=arch.resolution,
                                             channels=arch.img_channels),
            "faces": photo_set(FaceInverter(gan, refine_steps=1), data_root() / "faces" / "images", args.photos,
                               sources)}
    report = {
        "model": str(args.model), "generator": arch.resolution, "threads": args.threads,
        "steps": args.steps, "loss": None if inversion_parts(gan).loss is None else asdict(inversion_parts(gan).loss),
        "lpips*": getattr(lpips, "name", args.lpips_net), "identity*": "dlib ResNet (genfer port), 150 px",
        "fid_extractor": extractor.name, "fid_feature_dim": int(extractor.num_features),
        "duplicates_of": [source_name(s) for s in sources], "generator_sources_read": generator_read,
        "sets": {name: report_set(gan, held, args, lpips, embed, extractor) for name, held in sets.items()},
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
