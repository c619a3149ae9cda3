"""``genfer models [NAME]``: list the shipped models, or show one's model card.

``--json`` prints one object: ``{"default", "models": [names], "methods": {name: {"method", "tasks", "summary"}}}``
(each model's method read from its ``config.json`` through the registry), or with NAME ``{"name", "card"}``
(``card``: the model card's Markdown, null when the model has none).
"""

from __future__ import annotations

import argparse
from typing import Any

from genfer.commands._common import add_output_options, emit


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("models", help="list shipped models, or show one's model card")
    p.add_argument("name", nargs="?")
    add_output_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    from genfer import registry
    from genfer.hub import DEFAULT_RECOGNIZER, available_models, model_card, read_model_config

    if args.name:
        card = model_card(args.name)
        emit(args, {"name": args.name, "card": card or None}, card or f"{args.name} has no model card")
        return 0
    names = available_models()
    methods = {}
    for name in names:
        method = registry.method_of(read_model_config(name)[1])
        methods[name] = {"method": method.name, "tasks": list(method.tasks), "summary": method.summary}
    width = max((len(n) for n in names), default=0) + len(" (default)")
    lines = [f"{(n + (' (default)' if n == DEFAULT_RECOGNIZER else '')):<{width}}  {methods[n]['method']:<10}  "
             f"{', '.join(methods[n]['tasks'])}" for n in names]
    emit(args, {"default": DEFAULT_RECOGNIZER, "models": names, "methods": methods}, "\n".join(lines))
    return 0
