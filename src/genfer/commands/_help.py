"""Help texts of the ``genfer`` commands: defaults shown, one example per command, lists read from the registries.

:func:`finish_help` is applied by ``genfer.cli`` to every (sub)parser: it installs :class:`HelpFormatter` (which
appends ``(default: X)`` to an option's help unless the help already names its default) and, from a command
module's ``EXAMPLE`` string, the epilog ``example:`` that ends ``genfer COMMAND --help``. The ``*_list``
functions give the choices a help text names (shipped models, datasets) from where they are defined, so no help
text copies a list by hand.
"""

from __future__ import annotations

import argparse
from functools import lru_cache
from typing import Any

NO_DEFAULT = (None, False, "", [], ())
"""Defaults not worth showing (absent values, off switches)."""


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default; keeps the line breaks of texts that have them (the example epilog)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.default is argparse.SUPPRESS or _is_no_default(action.default) or "default" in text.lower()
                or not (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)


def _is_no_default(value: Any) -> bool:
    return any(value is v or (type(value) is type(v) and value == v) for v in NO_DEFAULT)


def finish_help(parser: argparse.ArgumentParser, example: str | None = None) -> argparse.ArgumentParser:
    """Install the formatter on ``parser`` and its subparsers; ``example`` becomes the epilog (if none is set).

    A command with subcommands (``genfer directions fit``) shows the whole example; each subcommand shows the lines
    of it that run that subcommand.
    """
    parser.formatter_class = HelpFormatter
    lines = example.strip().splitlines() if example else []
    if lines and not parser.epilog:
        parser.epilog = "example:\n  " + "\n  ".join(lines)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                finish_help(sub, "\n".join(line for line in lines if line.startswith(sub.prog + " ")) or None)
    return parser


def shipped_models(task: str | None = None) -> str:
    """``name (alias), ...`` of the shipped models, only those whose method has ``task`` if given."""
    from genfer.hub import MODEL_ALIASES

    names = []
    for name, tasks in _shipped_tasks():
        if task is None or task in tasks:
            aliases = [a for a, target in MODEL_ALIASES.items() if target == name]
            names.append(name + (f" ({', '.join(aliases)})" if aliases else ""))
    return ", ".join(names) or "none"


@lru_cache(maxsize=1)
def _shipped_tasks() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(name, tasks) of each shipped model, read once per process (every parser's help names them)."""
    from genfer import registry
    from genfer.hub import available_models, read_model_config

    return tuple((name, registry.method_of(read_model_config(name)[1]).tasks) for name in available_models())


def model_help(task: str, what: str = "model") -> str:
    """Help of a ``--model`` option: what it takes and the shipped models that can do ``task``."""
    return f"shipped {what} name or alias ({shipped_models(task)}), or a model, run or checkpoint folder"


def dataset_list() -> str:
    """``fer2013 (PublicTest), ferplus (valid), ...``: every dataset reader with the split it is evaluated on."""
    from genfer.data.registry import DATASETS, DEFAULT_SPLITS

    return ", ".join(f"{name} ({DEFAULT_SPLITS.get(name) or 'all images'})" for name in DATASETS)


__all__ = ["HelpFormatter", "dataset_list", "finish_help", "model_help", "shipped_models"]
