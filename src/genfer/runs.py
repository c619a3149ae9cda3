"""Training runs on disk: what a run folder holds and what state it is in, read without torch.

A run folder (``genfer train ... --out DIR``) holds ``metrics.jsonl`` (one JSON record per line: ``start``,
``train`` every few steps, the hooks' ``eval`` records, ``end``), checkpoints ``ckpt-<step>/`` with a ``latest``
pointer, ``final/`` once finished, and while a process trains in it ``running.json`` (its pid and host; removed
when the loop ends). :func:`run_status` reads these into a :class:`RunStatus`; the training loop writes the
marker through :func:`marked_running`.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genfer import registry
from genfer.io import CheckpointError, latest_checkpoint

METRICS_FILE = "metrics.jsonl"
RUNNING_FILE = "running.json"
RECENT_SECONDS = 600.0
"""A run without a marker (written before markers existed) counts as running if its log grew this recently."""

NOT_SCALARS = frozenset({"event", "step", "time", "train_seconds", "total_steps", "world_size"})
"""Keys of a metrics record that are bookkeeping, not measurements."""

STATES = ("running", "finished", "resumable", "no checkpoint")


def scalar_values(record: dict[str, Any]) -> dict[str, float]:
    """The measured numbers of a metrics record (bools, strings, lists and bookkeeping keys left out)."""
    return {k: float(v) for k, v in record.items()
            if k not in NOT_SCALARS and isinstance(v, (int, float)) and not isinstance(v, bool)}


@dataclass(frozen=True)
class RunStatus:
    """One run folder as ``genfer runs`` lists it.

    ``step``: the last step logged; ``checkpoint_step``: the step of the latest checkpoint (where a resume starts);
    ``total_steps``: the run's length at its last start; ``train``: the last ``train`` record's scalars;
    ``eval``: the last evaluation record's scalars; ``updated``: seconds since the epoch of the last record.
    """

    path: str
    name: str
    method: str | None
    state: str
    step: int | None
    total_steps: int | None
    checkpoint_step: int | None
    train: dict[str, float] = field(default_factory=dict)
    eval: dict[str, float] = field(default_factory=dict)
    updated: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and ((path / METRICS_FILE).is_file() or (path / "latest").is_file())


def find_runs(root: str | Path) -> list[Path]:
    """``root`` if it is a run folder, else its sub-folders (two levels deep) that are, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder {root}")
    if is_run_folder(root):
        return [root]
    found = [p for p in sorted(root.iterdir()) if is_run_folder(p)]
    found += [q for p in sorted(root.iterdir()) if p.is_dir() and not is_run_folder(p)
              for q in sorted(p.iterdir()) if is_run_folder(q)]
    return sorted(found)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics log; a line cut short by a crash is skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _method(run: Path, checkpoint: Path | None) -> str | None:
    for folder in (checkpoint, run / "final"):
        if folder is not None and (folder / "config.json").is_file():
            try:
                data = json.loads((folder / "config.json").read_text())
                return data.get("method") or registry.infer_method(data)
            except (ValueError, CheckpointError):
                continue
    yaml_file = run / "config.yaml"
    if yaml_file.is_file():
        for line in yaml_file.read_text().splitlines():
            if line.startswith("method:"):
                return line.split(":", 1)[1].strip() or None
    return None


def _marker_alive(marker: Path) -> bool | None:
    """True/False whether the process named by a ``running.json`` lives (True on another host); None: no marker."""
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text())
        pid, host = int(data["pid"]), data.get("host")
    except (ValueError, KeyError, TypeError):
        return False
    if host and host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_status(run: str | Path, *, now: float | None = None) -> RunStatus:
    """The state of run folder ``run``: ``running`` (a live process trains in it), ``finished`` (``final/``
    written at the last step), ``resumable`` (a checkpoint to go on from) or ``no checkpoint``."""
    run = Path(run)
    records = read_records(run / METRICS_FILE)
    try:
        checkpoint = latest_checkpoint(run)
    except CheckpointError:
        checkpoint = None
    checkpoint_step = int(checkpoint.name.split("-")[-1]) if checkpoint is not None else None
    starts = [r for r in records if r.get("event") == "start"]
    total = starts[-1].get("total_steps") if starts else None
    step = next((r["step"] for r in reversed(records) if isinstance(r.get("step"), int)), checkpoint_step)
    train = next((r for r in reversed(records) if r.get("event") == "train"), {})
    evals = next((r for r in reversed(records) if r.get("event") not in ("train", "start", "end", "length_changed")),
                 {})
    updated = records[-1].get("time") if records else None
    alive = _marker_alive(run / RUNNING_FILE)
    ended = bool(records) and records[-1].get("event") == "end"
    now = time.time() if now is None else now
    if alive or (alive is None and not ended and updated is not None and now - updated < RECENT_SECONDS):
        state = "running"
    elif (run / "final").is_dir() and (total is None or (checkpoint_step or 0) >= total):
        state = "finished"
    elif checkpoint is not None:
        state = "resumable"
    else:
        state = "no checkpoint"
    return RunStatus(path=str(run), name=run.name, method=_method(run, checkpoint), state=state, step=step,
                     total_steps=total, checkpoint_step=checkpoint_step, train=scalar_values(train),
                     eval=scalar_values(evals), updated=updated)


@contextmanager
def marked_running(run_dir: str | Path | None) -> Iterator[None]:
    """Write ``running.json`` (pid, host, start time) into ``run_dir`` for the duration (None: do nothing)."""
    if run_dir is None:
        yield
        return
    marker = Path(run_dir) / RUNNING_FILE
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}))
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


__all__ = ["METRICS_FILE", "RUNNING_FILE", "RunStatus", "STATES", "find_runs", "is_run_folder", "marked_running",
           "read_records", "run_status", "scalar_values"]
