"""``genfer serve``: the HTTP JSON API and the web page (needs the ``serve`` extra: FastAPI, uvicorn).

    genfer serve [--host 127.0.0.1] [--port 8000] [--model M] [--neutralize-model M|none] [--transfer-model M|none]
                 [--invert-model M|none] [--directions auto|none|DIR] [--max-upload-mb 20] [--max-pixels 50000000]

Loads the models once (a bad ``--model`` or a ``--directions`` that is not a directions folder is a one-line error,
exit 2), then serves until interrupted. ``/edit`` is served with the directions shipped beside the ``--invert-model``
(``--directions auto``, the default) or a folder's, and not with ``--directions none``. The endpoints and their JSON
are in :mod:`genfer.serve.app` and docs/serve.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from genfer.commands._common import UserError, add_detector, setup_threads

EXAMPLE = "genfer serve --port 8000      # then open http://127.0.0.1:8000/"


def _model_or_none(value: str) -> str | None:
    return None if value.lower() == "none" else value


def _directions(value: str, invert_model: str | None) -> str | None:
    """The directions folder ``--directions`` names (None: /edit not served), checked before the models load."""
    if value.lower() == "none":
        return None
    if value.lower() == "auto":
        from genfer.hub import read_model_config
        from genfer.inversion import DEFAULT_GAN
        from genfer.io import CheckpointError
        from genfer.pipelines.latent import directions_beside

        try:
            folder = directions_beside(*read_model_config(invert_model or DEFAULT_GAN))
        except (CheckpointError, FileNotFoundError):
            return None
        return None if folder is None else str(folder)
    from genfer.editing.store import load_directions

    load_directions(value)  # a wrong folder fails at once
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from genfer.hub import DEFAULT_RECOGNIZER, MODEL_ALIASES
    from genfer.inversion import DEFAULT_GAN

    p = subparsers.add_parser("serve", help="HTTP JSON API and web page (recognize, explain, neutralize, transfer, "
                                            "invert, edit)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port to listen on")
    p.add_argument("--model", default=DEFAULT_RECOGNIZER, help="recognizer: shipped name or model folder")
    p.add_argument("--neutralize-model", type=_model_or_none, default=MODEL_ALIASES["pfvit"],
                   help="PF-ViT model for /neutralize ('none': not served)")
    p.add_argument("--transfer-model", type=_model_or_none, default=MODEL_ALIASES["switchgan"],
                   help="switch-unit GAN for /transfer ('none': not served)")
    p.add_argument("--invert-model", type=_model_or_none, default=DEFAULT_GAN,
                   help="pSp model for /invert ('none': not served)")
    p.add_argument("--directions", metavar="auto|none|DIR", default="auto",
                   help="emotion directions of the --invert-model's generator for /edit: 'auto' (default) the ones "
                        "shipped beside it, a folder from `genfer directions fit`, or 'none' (/edit not served)")
    add_detector(p)
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest request body in MiB (413 beyond)")
    p.add_argument("--max-pixels", type=int, default=50_000_000, help="largest image in pixels (413 beyond)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    return p


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from genfer.serve.app import create_app
        from genfer.serve.services import ServedModels, Services
    except ImportError as exc:
        raise UserError(f"genfer serve needs the serve extra ({exc.name} is missing): "
                        "pip install 'genfer[serve]'") from exc
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be in 1..65535, not {args.port}")
    if args.max_upload_mb <= 0 or args.max_pixels <= 0:
        raise UserError("--max-upload-mb and --max-pixels must be > 0")
    args.directions = _directions(args.directions, args.invert_model)
    setup_threads(args)
    services = Services(ServedModels(recognize=args.model, neutralize=args.neutralize_model,
                                     transfer=args.transfer_model, invert=args.invert_model,
                                     directions=args.directions, detector=args.detector))
    print(f"genfer serve: loading {', '.join(services.tasks)} models ...", file=sys.stderr)
    services.load()
    app = create_app(services, max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels)
    print(f"genfer serve: http://{args.host}:{args.port}/  (API: /docs; Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
