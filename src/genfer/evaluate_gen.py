"""Evaluate generated images against real ones (``genfer eval-gen``).

Unpaired metrics (``fid``, ``kid``) compare the two sets' feature distributions; paired metrics
(``lpips``, ``ssim``, ``psnr``, ``mse``) compare each generated image with the real image of the same
name (relative path without extension). Images are read with :func:`genfer.faces.io.load_image` and
resized (PIL bicubic) to one common size: ``size`` or the first real image's. SSIM, PSNR and MSE are
computed on [0, 1] pixels (data range 1); networks get [-1, 1].

``real`` may also be a statistics file written with ``save_stats`` (unpaired metrics only; KID needs the
features stored in it), so a reference set is featurised once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from PIL import Image

from genfer.faces.io import list_images, load_image
from genfer.metrics.extractors import build_extractor
from genfer.metrics.features import (
    FeatureAccumulator,
    FeatureStats,
    load_stats,
    save_stats,
)
from genfer.metrics.frechet import frechet_distance_stats
from genfer.metrics.kid import kernel_inception_distance
from genfer.metrics.lpips import build_lpips
from genfer.metrics.names import METRICS, PAIRED, UNPAIRED
from genfer.metrics.ssim import mse, psnr, ssim

log = logging.getLogger(__name__)


class PairingError(ValueError):
    """Paired metrics were requested but the two folders' file names do not match."""


def parse_metrics(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"fid,kid"`` (or a list) -> validated, de-duplicated metric names in the given order."""
    names = [m.strip().lower() for m in (text.split(",") if isinstance(text, str) else text) if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {','.join(METRICS)}" if unknown
                         else f"no metrics given; choose from {','.join(METRICS)}")
    return tuple(dict.fromkeys(names))


def _images(folder: str | Path, role: str) -> list[Path]:
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{role} folder not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"{role} must be a folder of images: {folder}")
    paths = list_images([folder])
    if not paths:
        raise ValueError(f"no images in {role} folder {folder}")
    return paths


def _key(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def pair_by_name(real: list[Path], real_root: Path, fake: list[Path], fake_root: Path) -> list[tuple[Path, Path]]:
    """(real, fake) pairs with the same relative path minus extension; every fake needs a real match.

    Raises :class:`PairingError` saying how many names match and miss, with an example.
    """
    by_key: dict[str, Path] = {}
    for p in real:
        k = _key(p, real_root)
        if k in by_key:
            raise PairingError(f"two real images share the name {k!r} ({by_key[k].name}, {p.name}); names must be "
                               "unique without extension for paired metrics")
        by_key[k] = p
    pairs, missing = [], []
    for p in fake:
        k = _key(p, fake_root)
        if k in by_key:
            pairs.append((by_key[k], p))
        else:
            missing.append(p)
    if missing or not pairs:
        example = f" (e.g. {missing[0].relative_to(fake_root)})" if missing else ""
        raise PairingError(f"paired metrics need the same file names in both folders: {len(pairs)} of {len(fake)} "
                           f"fake images match a real one, {len(missing)} do not{example}; "
                           f"use only fid,kid for unpaired sets")
    return pairs


def load_batch(paths: Sequence[Path], size: tuple[int, int]) -> torch.Tensor:
    """Images -> (B, 3, H, W) uint8 at ``size = (H, W)`` (PIL bicubic resize where needed)."""
    out = []
    for p in paths:
        img = load_image(p)
        if img.shape[:2] != size:
            img = np.asarray(Image.fromarray(img).resize((size[1], size[0]), Image.Resampling.BICUBIC))
        out.append(torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1))
    return torch.stack(out)


def to_signed(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 in [-1, 1]."""
    return images.float() / 127.5 - 1.0


def _batches(paths: Sequence[Path], batch_size: int) -> Iterator[Sequence[Path]]:
    for start in range(0, len(paths), batch_size):
        yield paths[start : start + batch_size]


def _bar(total: int, desc: str, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not progress, leave=False)


@torch.no_grad()
def featurize(extractor: torch.nn.Module, paths: Sequence[Path], *, size: tuple[int, int], batch_size: int = 64,
              keep_features: bool = False, progress: bool = False, desc: str = "features") -> FeatureStats:
    """Stream images through ``extractor`` (a named feature extractor) into :class:`FeatureStats`."""
    acc = FeatureAccumulator(extractor.name, keep_features=keep_features)
    device = next(extractor.parameters()).device
    with _bar(len(paths), desc, progress) as bar:
        for chunk in _batches(paths, batch_size):
            acc.update(extractor(to_signed(load_batch(chunk, size)).to(device)))
            bar.update(len(chunk))
    return acc.compute()


def _unpaired(metrics: tuple[str, ...], real: FeatureStats, fake: FeatureStats, *, kid_subset_size: int,
              kid_subsets: int, seed: int) -> dict[str, Any]:

    out: dict[str, Any] = {}
    common = {"extractor": fake.extractor, "n_real": real.n, "n_fake": fake.n, "feature_dim": fake.dim}
    if "fid" in metrics:
        out["fid"] = {"value": frechet_distance_stats(real, fake), "std": None, "n": fake.n, **common}
        if min(real.n, fake.n) <= fake.dim:
            out["fid"]["note"] = "fewer images than feature dimensions: singular covariance, strongly biased"
    if "kid" in metrics:
        if real.features is None:
            raise ValueError("KID needs the real features, but the statistics file holds only mean and covariance")
        kid = kernel_inception_distance(real.features, fake.features, subset_size=kid_subset_size,
                                        num_subsets=kid_subsets, generator=torch.Generator().manual_seed(seed))
        out["kid"] = {"value": kid.mean, "std": kid.std, "n": fake.n, "mean": kid.mean,
                      "subset_size": kid.subset_size, "num_subsets": kid.num_subsets, **common}
    return out


@torch.no_grad()
def _paired(metrics: tuple[str, ...], pairs: list[tuple[Path, Path]], *, size: tuple[int, int], batch_size: int,
            lpips: torch.nn.Module | None, progress: bool) -> dict[str, Any]:

    values: dict[str, list[torch.Tensor]] = {m: [] for m in metrics if m in PAIRED}
    with _bar(len(pairs), "pairs", progress) as bar:
        for chunk in _batches(pairs, batch_size):
            r = load_batch([a for a, _ in chunk], size)
            f = load_batch([b for _, b in chunk], size)
            r01, f01 = r.double() / 255.0, f.double() / 255.0
            if "ssim" in values:
                values["ssim"].append(ssim(r01, f01, data_range=1.0))
            if "psnr" in values:
                values["psnr"].append(psnr(r01, f01, data_range=1.0))
            if "mse" in values:
                values["mse"].append(mse(r01, f01))
            if lpips is not None:
                device = next(lpips.parameters()).device
                values["lpips"].append(lpips(to_signed(r).to(device), to_signed(f).to(device)).double().cpu())
            bar.update(len(chunk))
    out: dict[str, Any] = {}
    for name, parts in values.items():
        v = torch.cat(parts)
        mean = float(v.mean())
        entry: dict[str, Any] = {"value": mean, "std": float(v.std(unbiased=False)), "n": len(v), "mean": mean,
                                 "n_pairs": len(v)}
        if name == "lpips":
            entry["net"] = lpips.name
        else:
            entry["data_range"] = 1.0
        if name == "psnr" and torch.isinf(v).any():  # identical pairs: infinite PSNR, not valid JSON
            finite = v[torch.isfinite(v)]
            entry.update(value=None, mean=None, std=None, identical_pairs=int(torch.isinf(v).sum()),
                         mean_excluding_identical=float(finite.mean()) if len(finite) else None)
        out[name] = entry
    return out


def evaluate_generated(
    real: str | Path,
    fake: str | Path,
    *,
    metrics: str | Sequence[str] = ("fid", "kid"),
    extractor: str = "genfer-fer",
    model: str | Path | None = None,
    inception_weights: str | Path | None = None,
    lpips_net: str = "genfer",
    lpips_weights: str | Path | None = None,
    batch_size: int = 64,
    size: int | tuple[int, int] | None = None,
    save_stats_to: str | Path | None = None,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    seed: int = 0,
    progress: bool = False,
    device: str = "cpu",
) -> dict[str, Any]:
    """Metrics between a folder of real images (or a stats file) and a folder of generated images.

    Args:
        metrics: names from :data:`METRICS` (list or comma-separated string).
        extractor: FID/KID features, ``genfer-fer`` (over ``model``) or ``inception`` (``inception_weights``).
        model: recognizer name or folder for ``genfer-fer`` and ``genfer`` LPIPS (default: shipped default).
        lpips_net: ``genfer`` (offline), ``alex`` or ``vgg`` (``lpips_weights`` required).
        size: common image size ``N`` or ``(H, W)``; default: the first real (else fake) image's.
        save_stats_to: write the real set's feature statistics (with features) here.
        kid_subset_size, kid_subsets, seed: KID subsets (seeded).

    Returns:
        A JSON-able dict. Every entry of ``metrics`` has the same core fields: ``value`` (the score: FID; the
        mean over subsets for KID, over pairs for the paired metrics), ``std`` (the spread of what ``value``
        averages; null for FID) and ``n`` (generated images compared for FID/KID, pairs for the paired
        metrics); KID and the paired metrics repeat ``value`` as ``mean``. Each FID/KID entry names its
        extractor.
    """
    chosen = parse_metrics(metrics)
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, not {batch_size}")
    unpaired = tuple(m for m in chosen if m in UNPAIRED)
    paired = tuple(m for m in chosen if m in PAIRED)
    real_path, fake_root = Path(real), Path(fake)
    real_stats: FeatureStats | None = None
    if real_path.is_file():
        if paired:
            raise ValueError(f"{real_path} is a statistics file: paired metrics ({', '.join(paired)}) need a folder")
        real_stats = load_stats(real_path)
        real_paths: list[Path] = []
    else:
        real_paths = _images(real_path, "real")
    fake_paths = _images(fake_root, "fake")
    if size is None:
        first = load_image(real_paths[0] if real_paths else fake_paths[0])
        hw = (int(first.shape[0]), int(first.shape[1]))
    else:
        hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    pairs = pair_by_name(real_paths, real_path, fake_paths, fake_root) if paired else []

    result: dict[str, Any] = {"real": str(real_path), "fake": str(fake_root), "n_real": real_stats.n if real_stats
                              else len(real_paths), "n_fake": len(fake_paths), "image_size": list(hw), "metrics": {}}
    if unpaired:

        net = build_extractor(extractor, model=model, inception_weights=inception_weights, device=device)
        keep = "kid" in unpaired or save_stats_to is not None
        if real_stats is None:
            real_stats = featurize(net, real_paths, size=hw, batch_size=batch_size, keep_features=keep,
                                   progress=progress, desc="real features")
        elif real_stats.extractor != net.name:
            raise ValueError(f"{real_path} holds {real_stats.extractor!r} features, not {net.name!r}")
        if save_stats_to is not None:
            save_stats(real_stats, save_stats_to)
            result["saved_stats"] = str(save_stats_to)
        fake_stats = featurize(net, fake_paths, size=hw, batch_size=batch_size, keep_features="kid" in unpaired,
                               progress=progress, desc="fake features")
        result["metrics"].update(_unpaired(unpaired, real_stats, fake_stats, kid_subset_size=kid_subset_size,
                                           kid_subsets=kid_subsets, seed=seed))
    if paired:
        lp = None
        if "lpips" in paired:

            lp = build_lpips(lpips_net, weights=lpips_weights, model=model, device=device)
        result["paired"] = {"n_pairs": len(pairs), "real_unmatched": len(real_paths) - len(pairs)}
        result["metrics"].update(_paired(paired, pairs, size=hw, batch_size=batch_size, lpips=lp, progress=progress))
    result["metrics"] = {m: result["metrics"][m] for m in chosen}
    return result


def format_result(result: dict[str, Any]) -> str:
    """Human-readable lines of an :func:`evaluate_generated` result."""
    lines = [f"real: {result['real']} ({result['n_real']} images)   fake: {result['fake']} "
             f"({result['n_fake']} images)   size {result['image_size'][0]}x{result['image_size'][1]}"]
    for name, m in result["metrics"].items():
        if name == "fid":
            lines.append(f"fid    {m['value']:.4f}   extractor {m['extractor']} ({m['feature_dim']}-d)"
                         + (f"   note: {m['note']}" if "note" in m else ""))
        elif name == "kid":
            lines.append(f"kid    {m['value']:.6f} ± {m['std']:.6f}   extractor {m['extractor']}, "
                         f"{m['num_subsets']} subsets of {m['subset_size']}")
        else:
            extra = f"net {m['net']}" if name == "lpips" else "data range [0, 1]"
            value = f"{m['value']:.4f}" if m["value"] is not None else "inf"
            if "identical_pairs" in m:
                others = m["mean_excluding_identical"]
                extra += f"; {m['identical_pairs']} identical pairs" + (f", {others:.4f} over the others"
                                                                         if others is not None else "")
            lines.append(f"{name:<6} {value}   {m['n_pairs']} pairs, {extra}")
    if "saved_stats" in result:
        lines.append(f"saved real feature statistics to {result['saved_stats']}")
    return "\n".join(lines)
