"""``genfer train [METHOD]``: train a model (resumes from OUT's latest checkpoint).

Prints one JSON object when training ends, ``{"run_dir", ...the trainer's summary}`` (under torchrun only
rank 0 prints); ``--print-config`` prints the resolved config as one JSON object instead of training.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from genfer import registry
from genfer.commands._common import UserError, dumps

EXAMPLE = 'genfer train pfvit --preset cpu --set optim.epochs=2 --out runs/pfvit'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("train", help="train a model (resumes from OUT's latest checkpoint)")
    methods = "; ".join(f"{m.name} ({m.summary})" for m in map(registry.get, registry.names()))
    presets = "; ".join(f"{name}: {', '.join(registry.get(name).presets)}" for name in registry.names())
    p.add_argument("method", nargs="?", default="recognizer", help=f"what to train: {methods}")
    p.add_argument("--preset", help=f"named preset, default cpu ({presets})")
    p.add_argument("--config", help="YAML/JSON config file (instead of a preset; the two exclude each other)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override, e.g. optim.lr=0.05 (repeatable)")
    p.add_argument("--data", help="dataset root (default: $GENFER_DATA/<dataset>)")
    p.add_argument("--out", help="run folder (default runs/<name>)")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT has checkpoints")
    p.add_argument("--skip-bad", action="store_true",
                   help="leave out dataset images that cannot be read (logged with their count) instead of stopping")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (resumable)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default); may change on resume")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-tensorboard", action="store_true",
                   help="write no TensorBoard events (written beside metrics.jsonl when tensorboard is installed)")
    return p


def run(args: argparse.Namespace) -> int:
    from genfer.config import apply_overrides, config_document, load_config, preset, save_config, to_dict
    from genfer.io.run_lock import check_unlocked

    import genfer.train  # noqa: F401  (attaches the built-in trainers to their methods)

    if args.method not in registry.names():
        raise UserError(f"unknown training method {args.method!r}; available: {', '.join(registry.names())}")
    method = registry.get(args.method)
    if method.train is None:
        raise UserError(f"method {args.method!r} has no trainer")
    if args.config and args.preset:
        raise UserError("--preset and --config exclude each other (a config file is a whole config; change its "
                        "values with --set KEY=VALUE)")
    cfg = load_config(method.config, args.config) if args.config else preset(args.preset or "cpu",
                                                                              dict(method.presets))
    overrides = list(args.set or [])
    if args.data:
        if "data" not in to_dict(cfg):
            raise UserError(f"--data does not apply to {args.method}; set its sources with --set or --config")
        overrides.append(f"data.root={args.data}")
    if args.skip_bad:
        if "skip_bad" not in to_dict(cfg).get("data", {}):
            raise UserError(f"--skip-bad does not apply to {args.method}")
        overrides.append("data.skip_bad=true")
    if args.threads:
        overrides.append(f"threads={args.threads}")
    cfg = apply_overrides(cfg, overrides)
    out = Path(args.out or f"runs/{cfg.name}")
    if args.print_config:
        print(dumps(config_document(cfg), indent=2))
        return 0
    if int(os.environ.get("RANK", "0")) == 0:  # rank 0 holds the lock; under torchrun the others must not check it
        check_unlocked(out)  # before config.yaml is rewritten under a live run
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    options = {"tensorboard": False} if args.no_tensorboard else {}  # third-party trainers may lack the option
    summary = method.train(cfg, out, resume=not args.no_resume, progress=not args.quiet, max_steps=args.max_steps,
                           **options)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 reports
        print(dumps({"run_dir": str(out), **summary}))
    return 0
