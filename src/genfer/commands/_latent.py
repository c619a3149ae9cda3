"""What the latent-editing commands share (``edit``, ``neutralize --method latent``, ``transfer --method latent``):
the inverter, the directions and Eq. 2's constants, and building the :class:`~genfer.pipelines.latent.Editor`."""

from __future__ import annotations

import argparse
from typing import Any

from genfer.commands._common import UserError, setup_threads, write_faces


def inverter_names() -> list[str]:
    """Registered methods that invert faces (read from the registry: ASIT appears once it registers)."""
    from genfer import registry

    return [name for name in registry.names() if "invert" in registry.get(name).tasks]


def add_inverter_option(p: argparse.ArgumentParser) -> None:
    """``--inverter`` (a method name, case-insensitive, or a model folder)."""
    p.add_argument("--inverter", default=None, metavar="METHOD_OR_MODEL",
                   help=f"inverter: {' | '.join(inverter_names())} (its shipped model; case-insensitive) or a model "
                        "folder (default: psp)")


def add_latent_options(p: argparse.ArgumentParser, *, recognizer: bool = True) -> None:
    """``--inverter``, ``--directions``, ``--refine``, ``--neutral-strength``, ``--level`` and (unless the command
    has its own) ``--recognizer``."""
    from genfer.hub import DEFAULT_RECOGNIZER
    from genfer.editing.arithmetic import NEUTRAL_STRENGTH

    add_inverter_option(p)
    p.add_argument("--directions", metavar="DIR",
                   help="directions folder from `genfer directions fit` (default: the one shipped beside the "
                        "inverter's generator)")
    p.add_argument("--refine", type=int, default=0, metavar="STEPS",
                   help="refine the encoder's code by STEPS optimisation steps (not with hyperstyle)")
    p.add_argument("--neutral-strength", type=float, default=None, metavar="K",
                   help="k of Eq. 2, the step along the neutral direction after the projection (default: the "
                        f"directions card's neutral_strength, else {NEUTRAL_STRENGTH})")
    p.add_argument("--level", type=float, default=0.0,
                   help="level of the neutral regressor's hyperplane the codes are projected onto (default 0)")
    if recognizer:
        p.add_argument("--recognizer", default=DEFAULT_RECOGNIZER,
                       help="recognizer that reads the inputs and the outputs")


def build_editor(args: argparse.Namespace) -> Any:
    """The :class:`~genfer.pipelines.latent.Editor` of the parsed options (threads set first)."""
    from genfer.pipelines.latent import Editor

    setup_threads(args)
    if getattr(args, "batch_size", 1) < 1:
        raise UserError(f"--batch-size must be >= 1, not {args.batch_size}")
    return Editor(args.inverter or "psp", args.directions, recognizer=args.recognizer, detector=args.detector,
                  refine_steps=args.refine, neutral_strength=args.neutral_strength, level=args.level,
                  batch_size=getattr(args, "batch_size", 16), precision=getattr(args, "precision", "float32"))


def save_codes(codes: dict[str, Any], paths: dict[str, str]) -> None:
    """Write each (n_latent, D) code as float32 .npy at its path."""
    import numpy as np

    for key, path in paths.items():
        np.save(path, np.asarray(codes[key], dtype=np.float32))


def run_neutralize(args: argparse.Namespace) -> int:
    """``genfer neutralize --method latent``: Eq. 2 on every face; records as PF-ViT's, ``poker_face`` the neutral
    image, plus ``latent`` / ``neutral_latent`` (.npy) and, with ``--all``, ``strip`` (input | reconstruction |
    neutral)."""
    from pathlib import Path

    import numpy as np

    from genfer.commands._common import expand_or_fail, save_png

    items = expand_or_fail(args.paths)
    editor = build_editor(args)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = editor.recognizer.classes

    def face_output(face: Any, k: int, stem: str, writer: Any) -> tuple[dict, str, list]:
        base = out_dir / f"{stem}_face{k + 1}"
        name = lambda suffix: str(base.with_name(base.name + suffix))  # noqa: E731
        label = max(face.probabilities, key=face.probabilities.get)
        record = {"box": [round(float(v), 1) for v in face.box], "landmarks": None, "label": label,
                  "probabilities": {n: round(float(face.probabilities[n]), 5) for n in names},
                  "source": face.source, "score": None, "poker_face": name("_poker.png"),
                  "latent": name("_wplus.npy"), "neutral_latent": name("_neutral_wplus.npy"),
                  "poker_face_label": max(face.neutral_probabilities, key=face.neutral_probabilities.get)}
        pending = [writer.submit(save_png, face.poker_face, Path(record["poker_face"]), scale=args.scale),
                   writer.submit(save_codes, {"latent": face.wplus, "neutral_latent": face.neutral_wplus},
                                 {"latent": record["latent"], "neutral_latent": record["neutral_latent"]})]
        if args.all:
            record["strip"] = name("_strip.png")
            strip = np.concatenate([face.aligned, face.reconstruction, face.poker_face], axis=1)
            pending.append(writer.submit(save_png, strip, Path(record["strip"]), scale=args.scale))
        return record, f"{label:<10} -> {record['poker_face']} (read as {record['poker_face_label']})", pending

    return write_faces(args, "neutralize", items, editor.iter_neutralize(items, aligned=args.aligned), face_output)


def run_transfer(args: argparse.Namespace, pairs: list) -> int:
    """``genfer transfer --method latent``: Eq. 3 (Eq. 4 with ``--alpha``) per pair; the switch-unit GAN's records
    plus ``codes`` (the W+ codes as .npy paths) and, with ``--alpha-sweep``, ``alphas`` and ``alpha_strip``."""
    import re
    from pathlib import Path

    import numpy as np

    from genfer.commands._common import BackgroundWriter, Results, finish, progress_bar

    editor = build_editor(args)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    alphas = list(np.linspace(0.0, 1.0, 5)) if args.alpha_sweep else []
    out = Results(args)
    clean = lambda p: re.sub(r"[^A-Za-z0-9._-]+", "_", Path(p).stem)  # noqa: E731
    results = editor.iter_transfer(pairs, aligned=args.aligned, alpha=args.alpha, reinvert=not args.no_reinvert,
                                   alphas=alphas)
    with BackgroundWriter(max_pending=2 * args.batch_size) as writer, progress_bar(args, len(pairs), "pair") as bar:
        for k, ((source, reference), res) in enumerate(zip(pairs, results)):
            stem = (f"{k:04d}_" if len(pairs) > 1 else "") + f"{clean(source)}__{clean(reference)}"
            paths = {} if res.error else res.output_paths(out_dir, stem)
            if res.error is None and alphas:
                paths["alpha_strip"] = str(out_dir / f"{stem}_alpha_strip.png")
            codes = {} if res.error else res.code_paths(out_dir, stem)
            pending = [] if res.error else [writer.submit(res.save, out_dir, stem)]
            if res.error:
                line = f"{Path(source).name} <-> {Path(reference).name}: error: {res.error}"
            else:
                rec = res.recognized
                line = (f"{Path(source).name} ({res.expressions['source']}) <-> {Path(reference).name} "
                        f"({res.expressions['reference']}): {paths['grid']}; outputs read as "
                        f"{rec['source_with_reference_expression']['label']} / "
                        f"{rec['reference_with_source_expression']['label']}")
            out.add(res.to_dict(paths, codes), [line], unreadable=None if res.readable else res.error,
                    pending=pending)
            bar.update(1)
        out.close()
    failed = [f"{r.get('source')}: {r['error']}" for r in out.records if r.get("error")]  # no face: no output
    return finish("transfer", out.unreadable, len(pairs), what="pairs have an unreadable image") or \
        finish("transfer", failed, len(pairs), what="pairs gave no output")
