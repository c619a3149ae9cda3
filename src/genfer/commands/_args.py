"""Argument checks of every subcommand, in one place: numeric ranges by option name, and one-line parse errors.

:func:`check_args` runs on the parsed arguments of any command before it starts (``genfer.cli.main``): every
option named in :data:`RANGES` that the command has is checked (and output folders must not be files), so a new command gets the same rules for its
``--batch-size``, ``--threads``, ... without code of its own. :class:`OneLineParser` makes argparse's own errors
(an unknown option, a missing argument, ``--batch-size abc``) one line too, like every other user error.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn


@dataclass(frozen=True)
class Range:
    """Allowed values of a numeric option: ``low`` <= v (< or <=) ``high``; ``note`` explains a special value."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    note: str = ""

    def problem(self, value: float) -> str | None:
        """Why ``value`` is out of range (None when it is fine)."""
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return f"must be {'>' if self.low_open else '>='} {_num(self.low)}{self.note}"
        if self.high is not None and value > self.high:
            return f"must be <= {_num(self.high)}{self.note}"
        return None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


RANGES: dict[str, Range] = {
    "batch_size": Range(1),
    "threads": Range(0, note=" (0: torch's default)"),
    "limit": Range(0, note=" (0: no limit)"),
    "max_steps": Range(1),
    "scale": Range(1),
    "n": Range(1),
    "size": Range(8),
    "kid_subset_size": Range(2),
    "kid_subsets": Range(1),
    "seed": Range(0),
    "refine": Range(0),
    "truncation": Range(0, 1),
    "crossover": Range(1),
    "port": Range(0, 65535),
    "max_upload_mb": Range(0, low_open=True),
    "max_pixels": Range(1),
    "sweep_steps": Range(2),
    "every": Range(1),
    "fps": Range(0, low_open=True),
    "smooth": Range(1),
}
"""Ranges by argparse ``dest``: applied to every command that has the option (None, its default when absent, is
always allowed). Every other number must be finite (``--strength nan`` is refused too)."""


OUTPUT_FOLDERS = ("out", "annotate")
"""Options naming an output folder (in every command but those of :data:`FILE_OUTPUTS`)."""

FILE_OUTPUTS = frozenset({"export"})
"""Commands whose ``--out`` names a file."""


def check_args(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> None:
    """Every check of :func:`check_ranges` and :func:`check_output_folders`."""
    check_ranges(args, parser)
    check_output_folders(args, parser)


def check_output_folders(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> None:
    """A ``ValueError`` when an output folder option names an existing file (or a path through one)."""
    from genfer.commands._common import UserError

    if getattr(args, "command", None) in FILE_OUTPUTS:
        return
    for dest in OUTPUT_FOLDERS:
        value = getattr(args, dest, None)
        if not isinstance(value, str) or not value:
            continue
        path = Path(value)
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            where = "is a file" if blocker == path else f"is inside {blocker}, a file"
            raise UserError(f"{_flag(dest, parser)} {value} {where}, not a folder")


def check_ranges(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> None:
    """Raise a ``ValueError`` (one line, exit 2) naming the first option of ``args`` that is out of its range."""
    from genfer.commands._common import UserError

    for dest, value in vars(args).items():
        allowed = RANGES.get(dest, Range())
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and (why := allowed.problem(v)):
                raise UserError(f"{_flag(dest, parser)} {why}, not {v}")


def _flag(dest: str, parser: argparse.ArgumentParser | None) -> str:
    """The option string of ``dest`` (``--batch-size``; ``-n``) as the user typed it."""
    for action in _actions(parser):
        if action.dest == dest and action.option_strings:
            return max(action.option_strings, key=len)
    return "--" + dest.replace("_", "-")


def _actions(parser: argparse.ArgumentParser | None) -> list[argparse.Action]:
    return list(parser._actions) if parser is not None else []  # noqa: SLF001 - argparse has no public accessor


class OneLineParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one stderr line (``genfer CMD: error: ...``) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        prog = self.prog
        print(f"{prog}: error: {message} (see {prog} --help)", file=sys.stderr)
        sys.exit(2)


def subcommand_parser(parser: argparse.ArgumentParser, command: str) -> Any:
    """The subparser of ``command`` inside the top-level parser (for option names in messages), or None."""
    for action in _actions(parser):
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return action.choices.get(command)
    return None
