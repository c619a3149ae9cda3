"""``genfer invert``: invert the faces in photos into a StyleGAN2's W+ space.

    genfer invert PATH... --out DIR [--aligned] [--refine STEPS] [--model NAME_OR_PATH] [--json|--jsonl]

Aligns every face to the generator's crop template at its resolution, inverts it (pSp encoder, then
``--refine`` optimisation steps if given) and writes ``<name>_aligned.png``, ``<name>_recon.png`` and
``<name>_wplus.npy`` ((n_latent, D) float32) per face (``<name>`` is the input's file stem, with ``_2``, ``_3``
… for further faces of the same photo). ``--json`` prints one object ``{"n", "errors", "unreadable",
"results"}`` with one result per input, ``{"path", "faces": [{"box", "source", "aligned", "reconstruction",
"latent"}], "error"}``; ``--jsonl`` prints those per-input objects, one per line as each input finishes.
Unreadable images are reported and make the exit code 2; a photo without a face is reported in its ``error``.

Without ``--refine`` the faces of consecutive inputs are encoded in batches of ``--batch-size``; the files are
written in a background thread (a ``--jsonl`` line is printed once its files are written). A progress bar goes
to stderr on a terminal (``--progress``: always; ``--quiet``: never).

``--model``: see :mod:`genfer.commands._gan`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from genfer.commands._common import (add_batch_options, check_batch_size, expand_or_fail, save_png, shown_paths,
                                     write_faces)
from genfer.commands._gan import add_gan_options, face_inverter, setup_gan


EXAMPLE = 'genfer invert photo.jpg --out inverted/ --refine 200'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("invert", help="invert faces into the generator's W+ space (reconstruction + W+ code)",
                              description="Align each face to the generator's crop template, invert it (pSp "
                                          "encoder, optionally refined by optimisation) and write NAME_aligned.png, "
                                          "NAME_recon.png and NAME_wplus.npy into --out.")
    p.add_argument("paths", nargs="+", help="image files and/or folders")
    p.add_argument("--out", required=True, help="output folder")
    add_gan_options(p, refine=True, jsonl=True)
    add_batch_options(p, batch_size=64)
    return p


def _write_face(face, base: Path) -> None:
    np.save(base.with_name(base.name + "_wplus.npy"), face.wplus.astype(np.float32))
    save_png(face.aligned, base.with_name(base.name + "_aligned.png"))
    save_png(face.reconstruction, base.with_name(base.name + "_recon.png"))


def run(args: argparse.Namespace) -> int:
    check_batch_size(args)
    items = expand_or_fail(args.paths)
    gan = setup_gan(args)
    inverter = face_inverter(args, gan)
    out_dir = Path(args.out)

    def face_output(face: Any, k: int, stem: str, writer: Any) -> tuple[dict, str, list]:
        base = out_dir / (stem if k == 0 else f"{stem}_{k + 1}")
        record = {"box": [round(v, 1) for v in face.box], "source": face.source,
                  "aligned": str(base.with_name(base.name + "_aligned.png")),
                  "reconstruction": str(base.with_name(base.name + "_recon.png")),
                  "latent": str(base.with_name(base.name + "_wplus.npy"))}
        note = " (no face detected: whole image)" if face.source == "whole-image" else ""
        return record, f"-> {record['reconstruction']}{note}", [writer.submit(_write_face, face, base)]

    return write_faces(args, "invert", items, inverter.iter_invert(items, aligned=args.aligned), face_output,
                       shown=shown_paths(items))
