"""What the ``genfer`` subcommands share: user errors, exit codes, output, threads and common options.

Output contract (README "Output contract"): ``--json`` prints exactly one JSON document, an object.
Commands over many inputs put one object per input in its ``results`` list next to a summary
(``n``, ``errors``, ``unreadable``); their ``--jsonl`` prints the same per-input objects instead, one per
line as each input finishes, and nothing else on stdout. Without either flag they print a text table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    import numpy as np

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError)
"""Exceptions that mean a bad input, not a bug: ``ImageReadError``, ``DatasetLayoutError``,
``CheckpointError`` and ``ConfigError`` all derive from ``ValueError``."""


class UserError(ValueError):
    """A mistake in the command line."""


def finish(command: str, unreadable: list[str], total: int, *, what: str = "images could not be read") -> int:
    """Exit code of a batch command: 2 (with one stderr line naming the first) if any input was unreadable."""
    if not unreadable:
        return 0
    print(f"genfer {command}: error: {len(unreadable)} of {total} {what} (first: {unreadable[0]})", file=sys.stderr)
    return 2


def setup_threads(args: argparse.Namespace) -> None:
    """``--threads N``: torch CPU threads (0 or absent: torch's default)."""
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def dumps(data: Any, *, indent: int | None = None) -> str:
    return json.dumps(data, indent=indent)


def emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    """Output of a single-result command: ``data`` as one JSON object with ``--json``, else ``text``."""
    print(dumps(data, indent=2) if getattr(args, "json", False) else text)


class Results:
    """Output of a command over many inputs (one record per input).

    ``add(record, lines)`` per input, then ``close()``: ``--jsonl`` prints each record on its own line as it
    arrives (flushed); ``--json`` prints one object ``{"n", "errors", "unreadable", "results": [...]}`` at the
    end; otherwise the text ``lines`` are printed at the end (after ``header``, if any).

    ``n`` counts the inputs, ``errors`` the records whose ``error`` is not null (e.g. "no face found"),
    ``unreadable`` those whose image could not be read (what makes the exit code 2).
    """

    def __init__(self, args: argparse.Namespace, header: str | None = None) -> None:
        self.json = bool(getattr(args, "json", False))
        self.jsonl = bool(getattr(args, "jsonl", False))
        self.records: list[dict[str, Any]] = []
        self.lines: list[str] = [header] if header else []
        self.unreadable: list[str] = []

    def add(self, record: dict[str, Any], lines: Iterable[str] = (), *, unreadable: str | None = None) -> None:
        """One input's record (and its text lines); ``unreadable``: the error of an input that could not be read."""
        self.records.append(record)
        self.lines.extend(lines)
        if unreadable is not None:
            self.unreadable.append(unreadable)
        if self.jsonl:
            print(dumps(record), flush=True)

    def summary(self) -> dict[str, Any]:
        return {"n": len(self.records), "errors": sum(r.get("error") is not None for r in self.records),
                "unreadable": len(self.unreadable), "results": self.records}

    def close(self) -> None:
        if self.jsonl:
            return
        print(dumps(self.summary()) if self.json else "\n".join(self.lines))


def add_output_options(p: argparse.ArgumentParser, *, jsonl: bool = False) -> None:
    """``--json`` (and ``--jsonl`` for commands over many inputs; the two exclude each other)."""
    group = p.add_mutually_exclusive_group() if jsonl else p
    group.add_argument("--json", action="store_true", help="machine-readable output: one JSON object")
    if jsonl:
        group.add_argument("--jsonl", action="store_true",
                           help="one JSON object per input per line, printed as each input finishes")


def add_common(p: argparse.ArgumentParser, *, model: bool = True, jsonl: bool = False) -> None:
    """``--model`` (a recognizer; ``model=False`` leaves it to the command), ``--json`` [``--jsonl``],
    ``--threads`` and ``--quiet``."""
    if model:
        from genfer.hub import DEFAULT_RECOGNIZER

        p.add_argument("--model", default=DEFAULT_RECOGNIZER, help="shipped model name or model/checkpoint folder")
    add_output_options(p, jsonl=jsonl)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_detector(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", default="auto", choices=["auto", "mediapipe", "haar"])


def expand_or_fail(paths: list[str]) -> list[Any]:
    """Image files and folders -> inputs; a :class:`UserError` when there are none."""
    from genfer.api import expand_inputs

    items = expand_inputs(paths)
    if not items:
        raise UserError("no images found in " + " ".join(paths))
    return items


def save_png(image: "np.ndarray", path: Path, *, scale: int = 1) -> str:
    """Write a uint8 (H, W) or (H, W, 3) image as PNG, enlarged ``scale`` times (nearest); returns the path."""
    from PIL import Image

    img = Image.fromarray(image)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    img.save(path)
    return str(path)


def import_ref(ref: str) -> Any:
    """``"module:attribute"`` -> the attribute (imported lazily)."""
    import importlib

    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)
