"""``genfer train [METHOD]``: train a model (resumes from OUT's latest checkpoint).

Prints one JSON object when training ends, ``{"run_dir", ...the trainer's summary}`` (under torchrun only
rank 0 prints); ``--print-config`` prints the resolved config as one JSON object instead of training.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from genfer import registry
from genfer.commands._common import UserError

def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("train", help="train a model (resumes from OUT's latest checkpoint)")
    methods = "; ".join(f"{m.name} ({m.summary})" for m in map(registry.get, registry.names()))
    presets = "; ".join(f"{name}: {', '.join(registry.get(name).presets)}" for name in registry.names())
    p.add_argument("method", nargs="?", default="recognizer", help=f"what to train: {methods}")
    p.add_argument("--preset", default="cpu", help=f"named preset ({presets})")
    p.add_argument("--config", help="YAML/JSON config file (instead of a preset)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override, e.g. optim.lr=0.05 (repeatable)")
    p.add_argument("--data", help="dataset root (default: $GENFER_DATA/<dataset>)")
    p.add_argument("--out", help="run folder (default runs/<name>)")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT has checkpoints")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (resumable)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    return p


def run(args: argparse.Namespace) -> int:
    from genfer.config import apply_overrides, config_document, load_config, preset, save_config, to_dict

    import genfer.train  # noqa: F401  (attaches the built-in trainers to their methods)

    if args.method not in registry.names():
        raise UserError(f"unknown training method {args.method!r}; available: {', '.join(registry.names())}")
    method = registry.get(args.method)
    if method.train is None:
        raise UserError(f"method {args.method!r} has no trainer")
    cfg = load_config(method.config, args.config) if args.config else preset(args.preset, dict(method.presets))
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
        print(json.dumps(config_document(cfg), indent=2))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    summary = method.train(cfg, out, resume=not args.no_resume, progress=not args.quiet, max_steps=args.max_steps)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 reports
        print(json.dumps({"run_dir": str(out), **summary}))
    return 0
