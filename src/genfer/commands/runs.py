"""``genfer runs [DIR]``: the training runs in a folder, with method, step, last metrics and state.

State: ``running`` (a live process trains in it), ``finished`` (``final/`` written), ``resumable`` (run the same
``genfer train`` command again to go on) or ``no checkpoint``. ``--json`` prints one object ``{"root", "runs":
[{"path", "name", "method", "state", "step", "total_steps", "checkpoint_step", "train", "eval", "updated"}]}``
(:class:`genfer.runs.RunStatus`; ``train``/``eval``: the last record's scalars).
"""

from __future__ import annotations

import argparse
from typing import Any

from genfer.commands._common import add_output_options, emit
from genfer.commands._table import table

EXAMPLE = "genfer runs runs/ --json"

SHOWN_METRICS = 3
"""Scalars of the last train and eval records shown per run in the table (all of them with --json)."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("runs", help="list training runs in a folder: method, step, last metrics, state")
    p.add_argument("dir", nargs="?", default="runs", help="a run folder, or a folder of runs (searched two levels deep)")
    add_output_options(p)
    return p


def _metrics(values: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in list(values.items())[:SHOWN_METRICS])


def _step(status: Any) -> str:
    if status.step is None:
        return "-"
    return f"{status.step}/{status.total_steps}" if status.total_steps else str(status.step)


def run(args: argparse.Namespace) -> int:
    from genfer.runs import find_runs, run_status

    statuses = [run_status(path) for path in find_runs(args.dir)]
    rows = [(s.path, s.method or "?", s.state, _step(s), _metrics(s.eval), _metrics(s.train)) for s in statuses]
    text = table(rows, ("run", "method", "state", "step", "last eval", "last train")) if rows \
        else f"no training runs in {args.dir}"
    emit(args, {"root": args.dir, "runs": [s.to_dict() for s in statuses]}, text)
    return 0
