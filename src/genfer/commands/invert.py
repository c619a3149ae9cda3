"""``genfer invert``, ``genfer sample`` and ``genfer mix``: GAN inversion, sampling and style mixing.

    genfer invert PATH... --out DIR [--aligned] [--refine STEPS] [--model NAME_OR_PATH] [--json]
    genfer sample -n N --out DIR [--seed S] [--truncation T] [--model NAME_OR_PATH] [--save-latents] [--json]
    genfer mix A B --out DIR [--crossover K ...] [--aligned] [--refine STEPS] [--model NAME_OR_PATH] [--json]

``invert`` aligns every face to the generator's crop template at its resolution, inverts it (pSp encoder, then
``--refine`` optimisation steps if given) and writes ``<name>_aligned.png``, ``<name>_recon.png`` and
``<name>_wplus.npy`` ((n_latent, D) float32) per face (``<name>`` is the input's file stem, with ``_2``, ``_3``
… for further faces of the same photo). ``--json`` prints a list with one object per input:
``{"path", "faces": [{"box", "source", "aligned", "reconstruction", "latent"}], "error"}``. Unreadable images
are reported and make the exit code 2; a photo without a face is reported in its ``error``.

``mix`` inverts the first face of A and of B and renders ``W+ = A[:k] ++ B[k:]`` for each crossover k (A's
coarse styles: pose and face shape; B's finer ones: expression details, texture and lighting); it writes
``<a>_<b>_mix<k>.png`` and a strip ``<a>_<b>_mix.png`` (A's reconstruction, the mixes, B's reconstruction).

``--model`` is a ``genfer train psp`` model (encoder + generator) or a ``genfer train stylegan2`` model (then
``invert``/``mix`` need ``--refine``), as a shipped name, a model folder or a run folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from genfer.commands.neutralize import save_png as _save_png
from genfer.inversion import DEFAULT_GAN


def _setup(args: argparse.Namespace) -> Any:
    import torch

    from genfer.inversion.load import load_gan

    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return load_gan(args.model)


def _inverter(args: argparse.Namespace, gan: Any) -> Any:
    from genfer.inversion.faces import FaceInverter

    return FaceInverter(gan, refine_steps=args.refine, detector=args.detector)


def _unique_stem(path: str, used: dict[str, int]) -> str:
    stem = Path(path).stem or "image"
    used[stem] = used.get(stem, 0) + 1
    return stem if used[stem] == 1 else f"{stem}-{used[stem]}"


def cmd_invert(args: argparse.Namespace) -> int:
    from genfer.api import expand_inputs
    from genfer.cli import UserError

    items = expand_inputs(args.paths)
    if not items:
        raise UserError("no images found in " + " ".join(args.paths))
    gan = _setup(args)
    inverter = _inverter(args, gan)
    out_dir = Path(args.out)
    results, lines, unreadable, used = [], [], [], {}
    for res in inverter.iter_invert(items, aligned=args.aligned):
        if not res.readable:
            unreadable.append(res.error)
        stem = _unique_stem(res.path, used)
        faces = []
        for k, face in enumerate(res.faces):
            base = stem if k == 0 else f"{stem}_{k + 1}"
            latent = out_dir / f"{base}_wplus.npy"
            np.save(latent, face.wplus.astype(np.float32))
            faces.append({"box": [round(v, 1) for v in face.box], "source": face.source,
                          "aligned": _save_png(face.aligned, out_dir / f"{base}_aligned.png"),
                          "reconstruction": _save_png(face.reconstruction, out_dir / f"{base}_recon.png"),
                          "latent": str(latent)})
            note = " (no face detected: whole image)" if face.source == "whole-image" else ""
            lines.append(f"{Path(res.path).name:<40} {k + 1:>4} -> {faces[-1]['reconstruction']}{note}")
        if res.error:
            lines.append(f"{Path(res.path).name:<40} {'-':>4} ({res.error})")
        results.append({"path": res.path, "faces": faces, "error": res.error})
    print(json.dumps(results) if args.json else "\n".join(lines))
    from genfer.cli import finish

    return finish("invert", unreadable, len(items))


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from genfer.cli import UserError
    from genfer.data.augment import to_uint8

    if args.n < 1:
        raise UserError(f"-n must be >= 1, not {args.n}")
    if not 0 <= args.truncation <= 1:
        raise UserError(f"--truncation must be in [0, 1], not {args.truncation}")
    gan = _setup(args)
    g, out_dir = gan.generator, Path(args.out)
    rng = torch.Generator().manual_seed(args.seed)
    z = torch.randn(args.n, g.style_dim, generator=rng)
    files = []
    with torch.no_grad():
        for start in range(0, args.n, 32):
            images, wplus = g(z[start : start + 32], truncation=args.truncation, truncation_latent=gan.latent_avg,
                              generator=rng, return_latents=True)
            for i, (img, code) in enumerate(zip(to_uint8(images), wplus.numpy())):
                name = f"sample_{start + i:04d}"
                entry = {"image": _save_png(img, out_dir / f"{name}.png")}
                if args.save_latents:
                    entry["latent"] = str(out_dir / f"{name}_wplus.npy")
                    np.save(entry["latent"], code.astype(np.float32))
                files.append(entry)
    summary = {"model": str(gan.folder), "n": args.n, "seed": args.seed, "truncation": args.truncation,
               "samples": files}
    print(json.dumps(summary) if args.json else f"wrote {args.n} samples to {out_dir}")
    return 0


def cmd_mix(args: argparse.Namespace) -> int:
    import torch

    from genfer.cli import UserError
    from genfer.data.augment import to_uint8

    gan = _setup(args)
    n_latent = gan.generator.n_latent
    enc = gan.encoder
    crossovers = args.crossover or ([enc.coarse_end, enc.medium_end] if hasattr(enc, "coarse_end")
                                    else [n_latent // 3, 2 * n_latent // 3])
    bad = [k for k in crossovers if not 0 < k < n_latent]
    if bad:
        raise UserError(f"--crossover values must be in 1..{n_latent - 1} (the generator has {n_latent} W+ entries), "
                        f"not {bad[0]}")
    inverter = _inverter(args, gan)
    pair = list(inverter.iter_invert([args.a, args.b], aligned=args.aligned))
    errors = [f"{r.path}: {r.error}" for r in pair if r.error]
    record: dict[str, Any] = {"a": args.a, "b": args.b, "crossovers": crossovers, "images": [], "strip": None,
                              "error": "; ".join(errors) or None}
    if all(r.faces for r in pair):
        wa, wb = (torch.from_numpy(r.faces[0].wplus)[None] for r in pair)
        mixes = to_uint8(inverter.render(torch.cat([torch.cat([wa[:, :k], wb[:, k:]], 1) for k in crossovers])))
        out_dir = Path(args.out)
        base = f"{Path(args.a).stem}_{Path(args.b).stem}_mix"
        record["images"] = [_save_png(img, out_dir / f"{base}{k}.png") for k, img in zip(crossovers, mixes)]
        strip = np.concatenate([pair[0].faces[0].reconstruction, *mixes, pair[1].faces[0].reconstruction], axis=1)
        record["strip"] = _save_png(strip, out_dir / f"{base}.png")
    print(json.dumps(record) if args.json else (record["strip"] or record["error"]))
    if any(not r.readable for r in pair):
        print(f"genfer mix: error: {record['error']}", file=sys.stderr)
        return 2
    return 0


def _model_options(p: argparse.ArgumentParser, add_common: Callable[..., None], *, refine: bool) -> None:
    add_common(p, model=False)
    p.add_argument("--model", default=DEFAULT_GAN, help="pSp model (encoder + generator) or StyleGAN2 model: shipped "
                                                        f"name or model/run folder (default {DEFAULT_GAN})")
    if refine:
        p.add_argument("--aligned", action="store_true", help="inputs are aligned face crops (no detection)")
        p.add_argument("--refine", type=int, default=0, metavar="STEPS",
                       help="refine the encoder's code by STEPS optimisation steps (needed for a generator alone)")
        p.add_argument("--detector", default="auto", choices=["auto", "mediapipe", "haar"])


def register(sub: Any, add_common: Callable[..., None]) -> None:
    """Add ``genfer invert``, ``genfer sample`` and ``genfer mix`` to the subcommands."""
    p = sub.add_parser("invert", help="invert faces into the generator's W+ space (reconstruction + W+ code)",
                       description="Align each face to the generator's crop template, invert it (pSp encoder, "
                                   "optionally refined by optimisation) and write NAME_aligned.png, NAME_recon.png "
                                   "and NAME_wplus.npy into --out.")
    p.add_argument("paths", nargs="+", help="image files and/or folders")
    p.add_argument("--out", required=True, help="output folder")
    _model_options(p, add_common, refine=True)
    p.set_defaults(func=cmd_invert)

    p = sub.add_parser("sample", help="write N faces generated from random latents",
                       description="Generate N faces from z drawn with --seed (truncated towards the average "
                                   "latent by --truncation) and write sample_NNNN.png into --out.")
    p.add_argument("-n", type=int, default=16, help="number of faces (default 16)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truncation", type=float, default=1.0, help="psi in [0, 1]: 1 no truncation (default), "
                                                                 "0 the average face")
    p.add_argument("--save-latents", action="store_true", help="also write sample_NNNN_wplus.npy")
    _model_options(p, add_common, refine=False)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("mix", help="style mixing of two inverted faces: A's coarse styles with B's finer ones",
                       description="Invert the first face of A and of B; for each crossover K render the W+ code "
                                   "made of A's entries [0, K) and B's entries [K, n_latent): A's pose and face "
                                   "shape with B's finer styles. Writes A_B_mixK.png and the strip A_B_mix.png "
                                   "(A's reconstruction, the mixes, B's reconstruction).")
    p.add_argument("a", help="image giving the coarse styles")
    p.add_argument("b", help="image giving the finer styles")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--crossover", type=int, nargs="+", metavar="K",
                   help="W+ crossover indices (default: the encoder's coarse/medium bounds)")
    _model_options(p, add_common, refine=True)
    p.set_defaults(func=cmd_mix)
