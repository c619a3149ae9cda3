"""``genfer edit``: move the faces of photos along an emotion direction in the generator's W+ space (Eq. 1).

    genfer edit PATH... --emotion NAME --strength K --out DIR [--aligned] [--inverter psp|hyperstyle|asit]
                [--sweep] [--json | --jsonl]

Every face is aligned to the generator's crop template, inverted (``--inverter``; ``--refine`` optimisation steps
for encoders) and edited: ``C + K·d_NAME`` with the directions of the inverter's generator (``--directions``).
It writes ``<name>_edited.png`` (the aligned crop's size) and ``<name>_edited_wplus.npy`` (n_latent, D) per face
and, with ``--sweep``, ``<name>_sweep.png``: the aligned input, then the edits at ``--sweep-steps`` strengths from
0 to K (the paper's Fig. 6). ``--json`` prints one object ``{"n", "errors", "unreadable", "results"}`` whose
``results`` hold one object per input, ``{"path", "faces": [{"box", "source", "edited", "latent", "input_latent",
"sweep", "strengths", "recognized"}], "error"}``; ``recognized`` is genfer's recognizer's reading of the edited face.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from genfer.commands._common import (UserError, add_aligned, add_batch_options, add_common, add_detector,
                                     expand_or_fail, save_png)
from genfer.commands._latent import add_latent_options, build_editor, save_codes, write_faces

EXAMPLE = "genfer edit photo.jpg --emotion happiness --strength 3 --sweep --out edits/"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from genfer.labels import EMOTIONS

    p = subparsers.add_parser("edit", help="edit the expression of faces along an emotion direction (latent editing)",
                              description="Invert each face into the generator's W+ space, add K times the emotion's "
                                          "direction (Eq. 1) and write the edited face and its code.")
    p.add_argument("paths", nargs="+", help="image files and/or folders")
    p.add_argument("--emotion", required=True, choices=EMOTIONS, help="direction to move along")
    p.add_argument("--strength", type=float, required=True, metavar="K",
                   help="K of C + K·d (w units; negative moves away from the emotion)")
    p.add_argument("--out", required=True, help="output folder")
    add_aligned(p)
    p.add_argument("--sweep", action="store_true", help="also write a strip of edits from 0 to K (Fig. 6)")
    p.add_argument("--sweep-steps", type=int, default=5, help="strengths in the --sweep strip, 0 and K included")
    p.add_argument("--scale", type=int, default=1, help="enlarge the written strips N times (nearest)")
    add_latent_options(p)
    add_detector(p)
    add_common(p, model=False, jsonl=True)
    add_batch_options(p, batch_size=16)
    return p


def _write(face: Any, base: Path, sweep: bool, scale: int) -> None:
    save_png(face.images[-1], base.with_name(base.name + "_edited.png"))
    save_codes({"edited": face.edited_wplus[-1], "input": face.wplus},
               {"edited": str(base.with_name(base.name + "_edited_wplus.npy")),
                "input": str(base.with_name(base.name + "_wplus.npy"))})
    if sweep:
        save_png(face.sweep_strip(), base.with_name(base.name + "_sweep.png"), scale=scale)


def run(args: argparse.Namespace) -> int:
    from genfer.pipelines.latent import edit_strengths

    if args.sweep and args.sweep_steps < 2:
        raise UserError(f"--sweep-steps must be >= 2, not {args.sweep_steps}")
    items = expand_or_fail(args.paths)
    editor = build_editor(args)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    strengths = edit_strengths(args.strength, args.sweep_steps if args.sweep else 0)

    def face_output(face: Any, k: int, stem: str, writer: Any) -> tuple[dict, str, list]:
        base = out_dir / (stem if k == 0 else f"{stem}_{k + 1}")
        pending = [writer.submit(_write, face, base, args.sweep, args.scale)]
        name = lambda suffix: str(base.with_name(base.name + suffix))  # noqa: E731
        record = face.to_dict({"edited": name("_edited.png"), "latent": name("_edited_wplus.npy"),
                               "input_latent": name("_wplus.npy"), "sweep": name("_sweep.png") if args.sweep else None})
        note = " (no face detected: whole image)" if face.source == "whole-image" else ""
        read = face.recognized[-1]
        return record, f"-> {record['edited']} (read as {read['label']} {read['probability']:.2f}){note}", pending

    results = editor.iter_edit(items, args.emotion, strengths, aligned=args.aligned)
    return write_faces(args, "edit", items, results, face_output)
