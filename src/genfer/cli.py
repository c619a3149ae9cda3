"""The ``genfer`` command: build the parser from the command modules in :mod:`genfer.commands` and run one.

User mistakes (missing files, bad datasets, bad checkpoints, bad config values) print one line on
stderr and exit with code 2; no traceback. ``GENFER_DEBUG=1`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Callable, Sequence

from genfer.commands import COMMANDS
from genfer.commands._args import OneLineParser, check_args, subcommand_parser
from genfer.commands._common import USER_ERRORS, UserError, finish
from genfer.commands._help import finish_help
from genfer.io.terminal import error_headline

__all__ = ["USER_ERRORS", "UserError", "build_parser", "finish", "main"]  # UserError etc.: backwards compatibility


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="genfer", description="Facial expression recognition and editing.")
    parser.add_argument("--version", action="version", version=f"genfer {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"genfer.commands.{name}")
        finish_help(module.add_parser(sub), getattr(module, "EXAMPLE", None)).set_defaults(func=module.run)
    return finish_help(parser, "genfer demo            # the shipped models on sample photos: genfer-demo/report.html\n"
                               "genfer COMMAND --help  # every option with its default, and an example")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genfer")
    except PackageNotFoundError:
        return "unknown"


def _one_line(exc: BaseException) -> str:
    text = error_headline(exc)
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
        check_args(args, subcommand_parser(parser, args.command))
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
