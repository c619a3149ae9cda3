"""``genfer transfer``: give SOURCE the expression of REFERENCE and REFERENCE that of SOURCE.

    genfer transfer SOURCE REFERENCE --out DIR [--aligned] [--method switchgan] [--model NAME_OR_PATH] [--json|--jsonl]
    genfer transfer SOURCE REFERENCE_FOLDER --out DIR        # one pair per reference image
    genfer transfer --pairs pairs.csv --out DIR              # rows source,reference

For every pair it writes ``<stem>_source_with_reference_expression.png``,
``<stem>_reference_with_source_expression.png`` and ``<stem>_grid.png`` (inputs on top, outputs below) into
DIR. ``--json`` prints one object ``{"n", "errors", "unreadable", "results"}`` with one result per pair:
``{"source", "reference", "outputs": {"source_with_reference_expression": PATH,
"reference_with_source_expression": PATH}, "grid", "expressions", "labels_from", "recognized", "faces",
"error"}``; ``--jsonl`` prints those per-pair objects, one per line as each pair finishes. A pair whose
image cannot be read or has no face is reported with its ``error``; unreadable
images make the exit code 2.

Pairs run through the networks in batches of ``--batch-size``; the PNGs are written in a background thread (a
``--jsonl`` line is printed once its files are written). A progress bar goes to stderr on a terminal
(``--progress``: always; ``--quiet``: never).
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path
from typing import Any

from genfer.commands._common import (BackgroundWriter, Results, add_aligned, add_batch_options, add_common,
                                     add_detector, check_batch_size, finish, progress_bar, setup_threads)
from genfer.commands._latent import add_latent_options
from genfer.commands._latent import run_transfer as run_latent_transfer
from genfer.hub import MODEL_ALIASES

TRANSFER_METHODS: dict[str, str] = {"switchgan": MODEL_ALIASES["switchgan"], "latent": MODEL_ALIASES["psp"]}
"""``--method`` -> its default ``--model`` (the name the shipped weights will have)."""


def read_pairs(path: str | Path) -> list[tuple[Path, Path]]:
    """(source, reference) rows of a CSV with a ``source,reference`` header; relative paths are taken from the
    CSV's folder. A missing file, header or column is a ``ValueError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pairs file not found: {path}")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"source", "reference"} <= {f.strip() for f in reader.fieldnames}:
            raise ValueError(f"{path} needs a header with the columns source,reference")
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    pairs = []
    for line, row in enumerate(rows, start=2):
        if not row["source"] or not row["reference"]:
            raise ValueError(f"{path} line {line}: both source and reference are required")
        pairs.append((path.parent / row["source"], path.parent / row["reference"]))
    if not pairs:
        raise ValueError(f"{path} lists no pairs")
    return pairs


def _pairs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    from genfer.faces.io import list_images

    if args.pairs:
        if args.source or args.reference:
            raise ValueError("give either SOURCE REFERENCE or --pairs CSV, not both")
        return read_pairs(args.pairs)
    if not (args.source and args.reference):
        raise ValueError("give SOURCE and REFERENCE images (REFERENCE may be a folder), or --pairs CSV")
    source = Path(args.source)
    if not source.exists():
        raise FileNotFoundError(f"no such file: {source}")
    references = list_images([args.reference])
    if not references:
        raise ValueError(f"no images found in {args.reference}")
    return [(source, r) for r in references]


def _stem(k: int, source: Path, reference: Path, many: bool) -> str:
    clean = lambda p: re.sub(r"[^A-Za-z0-9._-]+", "_", p.stem)  # noqa: E731
    return (f"{k:04d}_" if many else "") + f"{clean(source)}__{clean(reference)}"


EXAMPLE = 'genfer transfer source.jpg reference.jpg --out transfer/'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from genfer.hub import DEFAULT_RECOGNIZER
    from genfer.labels import TRANSFER_LABEL_SOURCES as LABEL_SOURCES

    p = subparsers.add_parser("transfer", help="exchange the expressions of two faces (switch-unit GAN)")
    p.add_argument("source", nargs="?", help="the face that takes REFERENCE's expression")
    p.add_argument("reference", nargs="?", help="the face whose expression is taken (an image or a folder of them)")
    p.add_argument("--pairs", metavar="CSV", help="CSV with source,reference columns (paths relative to the CSV)")
    p.add_argument("--out", required=True, help="output folder for the transferred faces and grids")
    add_aligned(p)
    p.add_argument("--method", default="switchgan", choices=sorted(TRANSFER_METHODS),
                   help="transfer method (its default model is --model's)")
    p.add_argument("--model", help="trained model: shipped name or a run's final/ or checkpoint folder "
                                   f"(default: {', '.join(f'{k}: {v}' for k, v in TRANSFER_METHODS.items())})")
    p.add_argument("--labels", default="classifier", choices=LABEL_SOURCES,
                   help="what reads the input expressions for the switch: the model's classifier C (default) or "
                        "genfer's recognizer")
    p.add_argument("--recognizer", default=DEFAULT_RECOGNIZER, help="recognizer that reads the outputs' expressions")
    add_detector(p)
    add_common(p, model=False, jsonl=True)
    add_batch_options(p, batch_size=64, unit="pairs")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="latent: α of Eq. 4, the share of the reference's expression (1: Eq. 3)")
    p.add_argument("--alpha-sweep", action="store_true",
                   help="latent: also write a strip source | α = 0, 0.25, ..., 1 | reference (Fig. 9)")
    p.add_argument("--no-reinvert", action="store_true",
                   help="latent: use the neutral codes as they are instead of re-inverting their images (Fig. 10)")
    add_latent_options(p, recognizer=False)
    return p


def run(args: argparse.Namespace) -> int:
    from genfer.pipelines.transfer import ExpressionTransfer

    setup_threads(args)
    batch_size = check_batch_size(args)
    pairs = _pairs(args)
    if args.method == "latent":
        args.inverter = args.inverter or args.model
        return run_latent_transfer(args, pairs)
    tr = ExpressionTransfer(args.model or TRANSFER_METHODS[args.method], labels=args.labels,
                            recognizer=args.recognizer, detector=args.detector, batch_size=batch_size,
                            precision=args.precision)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = Results(args)
    with BackgroundWriter(max_pending=2 * batch_size) as writer, progress_bar(args, len(pairs), "pair") as bar:
        for k, ((source, reference), res) in enumerate(zip(pairs, tr.iter_transfer(pairs, aligned=args.aligned))):
            stem = _stem(k, source, reference, len(pairs) > 1)
            paths = {} if res.error else res.output_paths(out_dir, stem)
            pending = [] if res.error else [writer.submit(res.save, out_dir, stem)]
            if res.error:
                line = f"{source.name} <-> {reference.name}: error: {res.error}"
            else:
                rec = res.recognized
                note = " (no face detected, whole image used)" if "whole-image" in res.faces.values() else ""
                line = (f"{source.name} ({res.expressions['source']}) <-> {reference.name} "
                        f"({res.expressions['reference']}): {paths['grid']}; outputs read as "
                        f"{rec['source_with_reference_expression']['label']} / "
                        f"{rec['reference_with_source_expression']['label']}{note}")
            out.add(res.to_dict(paths), [line], unreadable=None if res.readable else res.error, pending=pending)
            bar.update(1)
        out.close()
    failed = [f"{r.get('source')}: {r['error']}" for r in out.records if r.get("error")]  # e.g. no face: no output
    return finish("transfer", out.unreadable, len(pairs), what="pairs have an unreadable image") or \
        finish("transfer", failed, len(pairs), what="pairs gave no output")


__all__ = ["TRANSFER_METHODS", "add_parser", "read_pairs", "run"]
