"""``genfer export``: a model's inference graphs as ONNX files, built from its safetensors.

    genfer export --model NAME [--format onnx] [--graph G | --all] [--int8] [--out FILE.onnx] [--json]

Every recognizer exports its ``recognize`` graph (crops in [-1, 1] -> logits, dynamic batch axis); PF-ViT also
``render``, the switch-unit GAN ``transfer``, pSp ``invert`` (see :mod:`genfer.runtime.graphs`). ``--int8``
quantises the ``recognize`` graph statically, calibrated on FERPlus training faces. Without ``--out`` the file
is written to genfer's cache, where ``--backend onnx`` finds it. ``--json`` prints ``{"model", "format",
"files": [{"graph", "path", "int8", "size_mb"}]}``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from genfer.commands._common import UserError, add_output_options, emit, setup_threads

EXAMPLE = "genfer export --model fer-resnet18s-48 --int8 --out fer-int8.onnx"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("export", help="export a model's inference graphs to ONNX (optionally int8)")
    p.add_argument("--model", required=True, help="shipped model name/alias, or a model folder")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="file format (onnx)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--graph", default="recognize", help="graph to export (recognize, render, transfer, invert)")
    which.add_argument("--all", action="store_true", help="every graph the model has (--out names get -GRAPH)")
    p.add_argument("--int8", action="store_true", help="static int8 quantisation of the recognize graph, "
                                                       "calibrated on FERPlus training faces ($GENFER_DATA)")
    p.add_argument("--out", metavar="FILE.onnx", help="where to write (default: genfer's cache folder)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    add_output_options(p)
    return p


def _graph_out(out: Path, graph: str, several: bool) -> Path:
    return out.with_name(f"{out.stem}-{graph}{out.suffix}") if several else out


def run(args: argparse.Namespace) -> int:
    from genfer.hub import load_model
    from genfer.runtime.backends import onnx_file
    from genfer.runtime.graphs import model_graphs
    from genfer.runtime.onnx_export import cached_path, export_graph, graph_of, require_onnx

    setup_threads(args)
    require_onnx()
    if args.out and Path(args.out).suffix != ".onnx":
        raise UserError(f"--out must name a .onnx file, not {args.out}")
    loaded = load_model(args.model)
    names = list(model_graphs(loaded)) if args.all else [args.graph]
    if not names:
        raise UserError(f"{loaded.name} ({loaded.method}) has no graph to export")
    if args.int8 and names != ["recognize"]:
        raise UserError("--int8 quantises the recognize graph only; drop --all or use --graph recognize")
    files = []
    for name in names:
        graph = graph_of(loaded, name)
        if name == "recognize":  # the cached file the onnx backends use
            path = onnx_file(loaded, int8=args.int8)
            if args.out:
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                path = Path(shutil.copyfile(path, _graph_out(Path(args.out), name, len(names) > 1)))
        else:
            target = _graph_out(Path(args.out), name, len(names) > 1) if args.out else None
            path = export_graph(graph, target or cached_path(loaded, name))
        files.append({"graph": name, "path": str(path), "int8": args.int8,
                      "size_mb": round(path.stat().st_size / 2**20, 2)})
    text = "\n".join(f"{f['graph']:<10} {f['path']}  ({f['size_mb']} MB{', int8' if f['int8'] else ''})"
                     for f in files)
    emit(args, {"model": loaded.name, "format": args.format, "files": files}, text)
    return 0

