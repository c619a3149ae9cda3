"""``genfer invert``: invert the faces in photos into a StyleGAN2's W+ space.

    genfer invert PATH... --out DIR [--aligned] [--refine STEPS] [--model NAME_OR_PATH] [--json|--jsonl]

Aligns every face to the generator's crop template at its resolution, inverts it (pSp encoder, then
``--refine`` optimisation steps if given) and writes ``<name>_aligned.png``, ``<name>_recon.png`` and
``<name>_wplus.npy`` ((n_latent, D) float32) per face (``<name>`` is the input's file stem, with ``_2``, ``_3``
… for further faces of the same photo). ``--json`` prints one object ``{"n", "errors", "unreadable",
"results"}`` with one result per input, ``{"path", "faces": [{"box", "source", "aligned", "reconstruction",
"latent"}], "error"}``; ``--jsonl`` prints those per-input objects, one per line as each input finishes.
Unreadable images are reported and make the exit code 2; a photo without a face is reported in its ``error``.

``--model``: see :mod:`genfer.commands._gan`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from genfer.commands._common import Results, expand_or_fail, finish, save_png
from genfer.commands._gan import add_gan_options, face_inverter, setup_gan


def _unique_stem(path: str, used: dict[str, int]) -> str:
    stem = Path(path).stem or "image"
    used[stem] = used.get(stem, 0) + 1
    return stem if used[stem] == 1 else f"{stem}-{used[stem]}"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("invert", help="invert faces into the generator's W+ space (reconstruction + W+ code)",
                              description="Align each face to the generator's crop template, invert it (pSp "
                                          "encoder, optionally refined by optimisation) and write NAME_aligned.png, "
                                          "NAME_recon.png and NAME_wplus.npy into --out.")
    p.add_argument("paths", nargs="+", help="image files and/or folders")
    p.add_argument("--out", required=True, help="output folder")
    add_gan_options(p, refine=True, jsonl=True)
    return p


def run(args: argparse.Namespace) -> int:
    items = expand_or_fail(args.paths)
    gan = setup_gan(args)
    inverter = face_inverter(args, gan)
    out_dir = Path(args.out)
    out, used = Results(args), {}
    for res in inverter.iter_invert(items, aligned=args.aligned):
        stem = _unique_stem(res.path, used)
        faces, lines = [], []
        for k, face in enumerate(res.faces):
            base = stem if k == 0 else f"{stem}_{k + 1}"
            latent = out_dir / f"{base}_wplus.npy"
            np.save(latent, face.wplus.astype(np.float32))
            faces.append({"box": [round(v, 1) for v in face.box], "source": face.source,
                          "aligned": save_png(face.aligned, out_dir / f"{base}_aligned.png"),
                          "reconstruction": save_png(face.reconstruction, out_dir / f"{base}_recon.png"),
                          "latent": str(latent)})
            note = " (no face detected: whole image)" if face.source == "whole-image" else ""
            lines.append(f"{Path(res.path).name:<40} {k + 1:>4} -> {faces[-1]['reconstruction']}{note}")
        if res.error:
            lines.append(f"{Path(res.path).name:<40} {'-':>4} ({res.error})")
        out.add({"path": res.path, "faces": faces, "error": res.error}, lines,
                unreadable=None if res.readable else res.error)
    out.close()
    return finish("invert", out.unreadable, len(items))
