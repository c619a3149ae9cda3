"""The ``genfer`` command: parse arguments, build configs, call the library.

User mistakes (missing files, bad datasets, bad checkpoints, bad config values) print one line on
stderr and exit with code 2; no traceback. ``GENFER_DEBUG=1`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError)
"""Exceptions that mean a bad input, not a bug: ``ImageReadError``, ``DatasetLayoutError``,
``CheckpointError`` and ``ConfigError`` all derive from ``ValueError``."""


class UserError(ValueError):
    """A mistake in the command line."""


def _threads(args: argparse.Namespace) -> None:
    import torch

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)


def finish(command: str, unreadable: list[str], total: int, *, what: str = "images could not be read") -> int:
    """Exit code of a batch command: 2 (with one stderr line naming the first) if any input was unreadable."""
    if not unreadable:
        return 0
    print(f"genfer {command}: error: {len(unreadable)} of {total} {what} (first: {unreadable[0]})", file=sys.stderr)
    return 2


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=None if getattr(args, "compact", False) else 2) if args.json else text)


# ----------------------------------------------------------------------------- recognize


def cmd_recognize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from genfer.api import Recognizer, expand_inputs
    from genfer.faces.io import load_image
    from genfer.render import annotate

    _threads(args)
    rec = Recognizer(args.model, detector=args.detector, hflip_tta=args.tta, batch_size=args.batch_size)
    items = expand_inputs(args.paths)
    if not items:
        raise UserError("no images found in " + " ".join(args.paths))
    annotate_dir = Path(args.annotate) if args.annotate else None
    if annotate_dir:
        annotate_dir.mkdir(parents=True, exist_ok=True)
    results = []
    lines = [f"{'image':<40} {'face':>4} {'label':<10} {'p':>5}  box (x, y, w, h)"]
    bar = tqdm(total=len(items), unit="img", disable=args.quiet or not sys.stderr.isatty() and not args.progress)
    unreadable = []
    for res in rec.iter_predict(items, aligned=args.aligned):
        bar.update(1)
        if not res.readable:
            unreadable.append(res.error)
        if args.json:
            results.append(res.to_dict())
        name = Path(res.path).name
        if res.error and not res.faces:
            lines.append(f"{name:<40} {'-':>4} {'(' + res.error + ')'}")
        for k, f in enumerate(res.faces):
            note = " whole image" if f.source == "whole-image" else ""
            lines.append(f"{name:<40} {k + 1:>4} {f.label:<10} {f.probabilities[f.label]:.2f}  "
                         f"{', '.join(str(round(v)) for v in f.box)}{note}")
        if annotate_dir and res.faces:
            annotate(load_image(res.path), res.faces).save(annotate_dir / (Path(res.path).stem + ".jpg"), quality=90)
    bar.close()
    if args.json:
        print(json.dumps(results))
    else:
        print("\n".join(lines))
    return finish("recognize", unreadable, len(items))


# ----------------------------------------------------------------------------- train


TRAIN_METHODS: dict[str, tuple[str, str, str]] = {
    "recognizer": ("genfer.config:TrainConfig", "genfer.config:RECOGNIZER_PRESETS", "genfer.train.recognizer:train_recognizer"),
    "mae": ("genfer.config:MAETrainConfig", "genfer.config:MAE_TRAIN_PRESETS", "genfer.train.mae:train_mae"),
    "pfvit": ("genfer.config:PFViTTrainConfig", "genfer.config:PFVIT_PRESETS", "genfer.train.pfvit:train_pfvit"),
    "stylegan2": ("genfer.config:StyleGAN2TrainConfig", "genfer.config:STYLEGAN2_PRESETS", "genfer.train.stylegan2:train_stylegan2"),
    "psp": ("genfer.config:PSpTrainConfig", "genfer.config:PSP_PRESETS", "genfer.train.psp:train_psp"),
    "switchgan": ("genfer.config:SwitchGANTrainConfig", "genfer.config:SWITCHGAN_PRESETS", "genfer.train.switchgan:train_switchgan"),
}
"""``genfer train METHOD``: method -> (config class, presets, train function) as ``module:attribute`` (imported lazily)."""


def _attr(ref: str) -> Any:
    import importlib

    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def _train_method(method: str) -> tuple[type, dict[str, Any], Callable[..., dict[str, Any]]]:
    """(config class, presets, train function) of a training method."""
    if method not in TRAIN_METHODS:
        raise UserError(f"unknown training method {method!r}; available: {', '.join(TRAIN_METHODS)}")
    return tuple(_attr(ref) for ref in TRAIN_METHODS[method])  # type: ignore[return-value]


def cmd_train(args: argparse.Namespace) -> int:
    from genfer.config import apply_overrides, load_config, preset, save_config, to_dict

    config_cls, presets, train = _train_method(args.method)
    cfg = load_config(config_cls, args.config) if args.config else preset(args.preset, presets)
    overrides = list(args.set or [])
    if args.data:
        if "data" not in to_dict(cfg):
            raise UserError(f"--data does not apply to {args.method}; set its sources with --set or --config")
        overrides.append(f"data.root={args.data}")
    if args.threads:
        overrides.append(f"threads={args.threads}")
    cfg = apply_overrides(cfg, overrides)
    out = Path(args.out or f"runs/{cfg.name}")
    if args.print_config:
        print(json.dumps(to_dict(cfg), indent=2))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    summary = train(cfg, out, resume=not args.no_resume, progress=not args.quiet, max_steps=args.max_steps)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 reports
        print(json.dumps({"run_dir": str(out), **summary}))
    return 0


# ----------------------------------------------------------------------------- eval


def cmd_eval(args: argparse.Namespace) -> int:
    from genfer.api import Recognizer
    from genfer.evaluate import evaluate_dataset, save_eval
    from genfer.paths import dataset_root

    _threads(args)
    rec = Recognizer(args.model, detector=args.detector, hflip_tta=args.tta, batch_size=args.batch_size)
    options = {}
    if args.label_source:
        options["label_source"] = args.label_source
    result = evaluate_dataset(rec, args.dataset, dataset_root(args.dataset.lower(), args.data), args.split,
                              faces=args.faces, limit=args.limit, progress=not args.quiet and not args.json,
                              **options)
    if args.out:
        save_eval(result, args.out)
    text = f"{result.model} on {result.dataset} split {result.split} ({result.faces}):\n{result.report.table()}"
    _emit(args, result.to_dict(), text)
    return 0


# ----------------------------------------------------------------------------- eval-gen


def cmd_eval_gen(args: argparse.Namespace) -> int:
    from genfer.evaluate_gen import evaluate_generated, format_result

    _threads(args)
    result = evaluate_generated(
        args.real, args.fake, metrics=args.metrics, extractor=args.extractor, model=args.model,
        inception_weights=args.inception_weights, lpips_net=args.lpips_net, lpips_weights=args.lpips_weights,
        batch_size=args.batch_size, size=args.size, save_stats_to=args.save_stats,
        kid_subset_size=args.kid_subset_size, kid_subsets=args.kid_subsets, seed=args.seed,
        progress=not args.quiet)
    _emit(args, result, format_result(result))
    return 0


# ----------------------------------------------------------------------------- demo, models


def cmd_demo(args: argparse.Namespace) -> int:
    from genfer.api import Recognizer
    from genfer.demo import run_demo
    from genfer.faces.io import list_images, load_image

    _threads(args)
    rec = Recognizer(args.model)
    photos = [(str(p), load_image(p)) for p in list_images(args.paths)] if args.paths else None
    summary = run_demo(rec, args.out, photos)
    lines = [f"{p['photo']}: {', '.join(p['faces']) or p['error']}" for p in summary["photos"]]
    _emit(args, summary, "\n".join(lines) + f"\nreport: {summary['report']}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from genfer.hub import DEFAULT_RECOGNIZER, available_models, model_card

    if args.name:
        print(model_card(args.name) or f"{args.name} has no model card")
        return 0
    names = available_models()
    _emit(args, {"default": DEFAULT_RECOGNIZER, "models": names},
          "\n".join(f"{n}{' (default)' if n == DEFAULT_RECOGNIZER else ''}" for n in names))
    return 0


# ----------------------------------------------------------------------------- parser


def _common(p: argparse.ArgumentParser, *, model: bool = True) -> None:
    if model:
        from genfer.hub import DEFAULT_RECOGNIZER

        p.add_argument("--model", default=DEFAULT_RECOGNIZER, help="shipped model name or model/checkpoint folder")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


COMMAND_MODULES: tuple[str, ...] = ("genfer.commands.neutralize", "genfer.commands.transfer", "genfer.commands.invert")
"""Modules under ``genfer.commands`` that add subcommands: each has ``register(subparsers, add_common)``
adding its parsers (with ``set_defaults(func=...)``); ``add_common(parser)`` adds ``--json``/``--threads``/...
Their functions raise ``ValueError`` subclasses for user mistakes, as the commands here do."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genfer", description="Facial expression recognition and editing.")
    parser.add_argument("--version", action="version", version=f"genfer {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("recognize", help="recognise expressions of faces in photos")
    p.add_argument("paths", nargs="+", help="image files and/or folders")
    _common(p)
    p.add_argument("--annotate", metavar="OUT", help="write annotated copies into folder OUT")
    p.add_argument("--aligned", action="store_true", help="inputs are aligned face crops (no detection)")
    p.add_argument("--detector", default="auto", choices=["auto", "mediapipe", "haar"])
    p.add_argument("--tta", action="store_true", help="average with the mirrored face")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    p.set_defaults(func=cmd_recognize)

    p = sub.add_parser("train", help="train a model (resumes from OUT's latest checkpoint)")
    p.add_argument("method", nargs="?", default="recognizer", help="what to train: " + ", ".join(TRAIN_METHODS))
    p.add_argument("--preset", default="cpu", help="named preset (recognizer: tiny, cpu, cpu_fer2013, paper; "
                                                   "mae, pfvit, switchgan: tiny, cpu, paper)")
    p.add_argument("--config", help="YAML/JSON config file (instead of a preset)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override, e.g. optim.lr=0.05 (repeatable)")
    p.add_argument("--data", help="dataset root (default: $GENFER_DATA/<dataset>)")
    p.add_argument("--out", help="run folder (default runs/<name>)")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT has checkpoints")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (resumable)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="accuracy, mean class accuracy, macro-F1 and confusion on a dataset")
    p.add_argument("--dataset", required=True, help="fer2013, ferplus, rafdb, affectnet7, affectnet8, ckplus, "
                                                   "jaffe, folder, csv")
    p.add_argument("--data", help="dataset root (default: $GENFER_DATA/<dataset>)")
    p.add_argument("--split", help="split (default: the dataset's evaluation split)")
    p.add_argument("--label-source", help="ferplus: majority (8 classes) or fer2013 (7 classes)")
    p.add_argument("--faces", default="auto", choices=["auto", "crop", "detect"])
    p.add_argument("--limit", type=int, default=0, help="evaluate only the first N images")
    p.add_argument("--out", help="write metrics.json and confusion.png here")
    p.add_argument("--detector", default="auto", choices=["auto", "mediapipe", "haar"])
    p.add_argument("--tta", action="store_true")
    p.add_argument("--batch-size", type=int, default=256)
    _common(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("eval-gen", help="FID/KID, LPIPS, SSIM/PSNR/MSE of generated images against real ones")
    p.add_argument("real", help="folder of real images, or a statistics file written by --save-stats")
    p.add_argument("fake", help="folder of generated images")
    p.add_argument("--metrics", default="fid,kid", help="comma-separated: fid,kid (unpaired); lpips,ssim,psnr,mse "
                                                        "(paired by file name) (default fid,kid)")
    p.add_argument("--extractor", default="genfer-fer", choices=["genfer-fer", "inception"],
                   help="FID/KID features: genfer-fer (offline, the recognizer's; not comparable with published "
                        "FIDs) or inception (needs --inception-weights)")
    p.add_argument("--inception-weights", metavar="PATH", help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth "
                                                              "(default: $GENFER_CACHE/inception/)")
    p.add_argument("--lpips-net", default="genfer", choices=["genfer", "alex", "vgg"],
                   help="genfer (offline, the recognizer's features) or alex/vgg (needs --lpips-weights)")
    p.add_argument("--lpips-weights", metavar="PATH", help="LPIPS backbone + linear heads, lpips package key layout")
    p.add_argument("--save-stats", metavar="PATH", help="save the real set's feature statistics (.safetensors)")
    p.add_argument("--size", type=int, help="resize all images to SIZE x SIZE (default: the first real image's size)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--kid-subset-size", type=int, default=1000)
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="seed of the KID subsets")
    _common(p)
    p.set_defaults(func=cmd_eval_gen)

    p = sub.add_parser("demo", help="recognise packaged sample photos and write an HTML report")
    p.add_argument("paths", nargs="*", help="your own photos instead of the samples")
    p.add_argument("--out", default="genfer-demo", help="output folder (default genfer-demo)")
    _common(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("models", help="list shipped models, or show one's model card")
    p.add_argument("name", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    for module in COMMAND_MODULES:  # commands of the generative systems, one module each
        _attr(f"{module}:register")(sub, _common)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genfer")
    except PackageNotFoundError:
        return "unknown"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, FileNotFoundError) and exc.filename and str(exc.filename) not in text:
        text = f"{text}: {exc.filename}"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``genfer`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except USER_ERRORS as exc:
        if os.environ.get("GENFER_DEBUG"):
            raise
        print(f"genfer {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genfer {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the interpreter's final flush stays quiet
        return 0


if __name__ == "__main__":
    sys.exit(main())
