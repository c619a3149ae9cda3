"""``genfer models [NAME]``: list the shipped models with what they do, or show one's model card.

The table has one row per model: name (and aliases), method, tasks, classes, input, size and headline figure,
all read from the model folders (:mod:`genfer.catalog`). ``--json`` prints one object ``{"default", "models":
[{"name", "aliases", "default", "method", "tasks", "summary", "classes", "resolution", "channels", "parameters",
"size_mb", "headline"}]}``, or with NAME ``{"name", "card"}`` (``card``: the model card's Markdown, null when the
model has none).
"""

from __future__ import annotations

import argparse
from typing import Any

from genfer.commands._common import add_output_options, emit
from genfer.commands._table import table

EXAMPLE = "genfer models --json          # or: genfer models psp   (one model's card)"

COLUMNS = ("name", "method", "tasks", "classes", "input", "size", "headline")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("models", help="list shipped models (method, tasks, size, headline figure), or show "
                                             "one's model card")
    p.add_argument("name", nargs="?", help="a shipped model name or alias: print its model card instead of the list")
    add_output_options(p)
    return p


def _row(info: Any) -> tuple[str, ...]:
    name = info.name + "".join(f" ({a})" for a in info.aliases) + (" *" if info.default else "")
    return (name, info.method, ", ".join(info.tasks), str(info.classes or "-"), info.input,
            f"{info.parameters / 1e6:.2f} M, {info.size_mb:g} MB", info.headline or "-")


def run(args: argparse.Namespace) -> int:
    from genfer.catalog import catalog
    from genfer.hub import DEFAULT_RECOGNIZER, MODEL_ALIASES, model_card

    if args.name:
        name = MODEL_ALIASES.get(args.name, args.name)
        card = model_card(name)
        emit(args, {"name": name, "card": card or None}, card or f"{name} has no model card")
        return 0
    infos = catalog()
    text = table([_row(i) for i in infos], COLUMNS) + "\n(alias in brackets; * the default recognizer; `genfer models NAME`: model card)"
    emit(args, {"default": DEFAULT_RECOGNIZER, "models": [i.to_dict() for i in infos]}, text)
    return 0
