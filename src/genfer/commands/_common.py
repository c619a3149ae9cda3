"""What the ``genfer`` subcommands share: user errors, exit codes, output, threads and common options.

Output contract (README "Output contract"): ``--json`` prints exactly one JSON document, an object.
Commands over many inputs put one object per input in its ``results`` list next to a summary
(``n``, ``errors``, ``unreadable``); their ``--jsonl`` prints the same per-input objects instead, one per
line as each input finishes, and nothing else on stdout. Without either flag they print a text table.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

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
    """Strict JSON text: NaN and infinities are written as ``null`` (:func:`genfer.io.json_text.dumps`)."""
    from genfer.io.json_text import dumps as strict_dumps

    return strict_dumps(data, indent=indent)


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
        self._waiting: deque[tuple[dict[str, Any], list[Future]]] = deque()
        self._lock = threading.Lock()
        self._late_error: BaseException | None = None

    def add(self, record: dict[str, Any], lines: Iterable[str] = (), *, unreadable: str | None = None,
            pending: Iterable[Future] = ()) -> None:
        """One input's record (and its text lines); ``unreadable``: the error of an input that could not be read.

        ``pending``: the background writes of the files the record names (:class:`BackgroundWriter`). Its
        ``--jsonl`` line is printed as soon as they are done (from the writing thread; records stay in input
        order), never before; a failed write raises here or in :meth:`close`.
        """
        self.records.append(record)
        self.lines.extend(lines)
        if unreadable is not None:
            self.unreadable.append(unreadable)
        pending = list(pending)
        with self._lock:
            self._waiting.append((record, pending))
        for f in pending:
            f.add_done_callback(self._written)
        with self._lock:
            self._print_ready(raise_errors=True)

    def _written(self, _: Future) -> None:
        """A write finished (in the writing thread): print what is ready, unless the main thread is at it."""
        if self._lock.acquire(blocking=False):
            try:
                self._print_ready(raise_errors=False)
            except BaseException as exc:  # e.g. a closed stdout: re-raised in the main thread
                self._late_error = exc
            finally:
                self._lock.release()

    def _print_ready(self, *, raise_errors: bool) -> None:
        """With the lock: print (``--jsonl``) the records at the head of the queue whose files are all written."""
        if raise_errors and self._late_error is not None:
            exc, self._late_error = self._late_error, None
            raise exc
        while self._waiting:
            record, pending = self._waiting[0]
            if not all(f.done() for f in pending):
                return
            failed = next((f.exception() for f in pending if f.exception() is not None), None)
            if failed is not None:
                if raise_errors:
                    self._waiting.popleft()
                    raise failed
                return
            self._waiting.popleft()
            if self.jsonl:
                print(dumps(record), flush=True)

    def summary(self) -> dict[str, Any]:
        return {"n": len(self.records), "errors": sum(r.get("error") is not None for r in self.records),
                "unreadable": len(self.unreadable), "results": self.records}

    def close(self) -> None:
        """Wait for the records' files (re-raising a failed write), then print what is left to print."""
        while True:
            with self._lock:
                if not self._waiting:
                    break
                pending = self._waiting[0][1]
            wait(pending)  # without the lock: the writing thread's callbacks must not block
            with self._lock:
                self._print_ready(raise_errors=True)
        with self._lock:
            self._print_ready(raise_errors=True)
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
        from genfer.commands._help import model_help
        from genfer.hub import DEFAULT_RECOGNIZER

        p.add_argument("--model", default=DEFAULT_RECOGNIZER, help=model_help("recognize", "recognizer"))
    add_output_options(p, jsonl=jsonl)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_aligned(p: argparse.ArgumentParser) -> None:
    """``--aligned``: the inputs are aligned face crops (no detection)."""
    p.add_argument("--aligned", action="store_true", help="inputs are aligned face crops (no detection)")


def add_detector(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", default="auto", choices=["auto", "mediapipe", "haar"],
                   help="face detector: auto (MediaPipe if it imports, else Haar), mediapipe (MediaPipe, then Haar "
                        "cascades), haar (OpenCV Haar cascades only)")


def add_backend(p: argparse.ArgumentParser) -> None:
    """``--backend``: the network runtime of the recognizer (:mod:`genfer.runtime.backends`)."""
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "torch-bf16", "onnx", "onnx-int8"],
                   help="network runtime: auto (ONNX Runtime if installed and measured faster for the model, else "
                        "PyTorch), torch, torch-bf16 (bfloat16: fast on CPUs with AMX/AVX512-BF16), onnx, onnx-int8 "
                        "(static int8, calibrated on FERPlus training faces)")


def say_backend(args: argparse.Namespace, recognizer: Any, unreadable: list[str] | None = None) -> None:
    """After a command's work: one stderr line naming the network backend that ran, if any face was classified
    (not with --quiet, --json or --jsonl, and not when inputs failed: then stderr holds only the error line)."""
    backend = recognizer.backend_in_use
    quiet = args.quiet or getattr(args, "json", False) or getattr(args, "jsonl", False)
    if backend is not None and not quiet and not unreadable:
        print(f"backend: {backend.describe()}", file=sys.stderr)


def start_recognizer(args: argparse.Namespace, **options: Any) -> Any:
    """``--threads`` set, then the :class:`~genfer.api.Recognizer` of ``--model``, ``--detector`` and ``--backend``
    (``options``: its other keyword arguments)."""
    from genfer.api import Recognizer

    setup_threads(args)
    return Recognizer(args.model, detector=args.detector, backend=args.backend, **options)


def close_results(command: str, args: argparse.Namespace, out: Results, recognizer: Any, total: int) -> int:
    """The end of a recognizer command over ``total`` inputs: ``out`` printed, the backend line
    (:func:`say_backend`), then :func:`finish`'s exit code."""
    out.close()
    say_backend(args, recognizer, out.unreadable)
    return finish(command, out.unreadable, total)


def expand_or_fail(paths: list[str]) -> list[Any]:
    """Image files and folders -> inputs; a :class:`UserError` when there are none.

    A path that does not exist stays in the list as itself: the command reports it as an unreadable input
    ("no such file") while it processes the others, and exits with code 2 at the end.
    """
    from genfer.api import expand_inputs

    items: list[Any] = []
    seen: set[Any] = set()
    for found in expand_inputs(paths):
        if found not in seen:
            seen.add(found)
            items.append(found)
    if not items:
        raise UserError("no images found in " + " ".join(paths))
    return items


class OutputNames:
    """The one rule of output file names, in every command: an input's file stem, then ``-2``, ``-3``, ... for the
    second, third input with the same stem (``a/x.jpg`` and ``b/x.jpg`` give ``x`` and ``x-2``), so no output
    overwrites another. The JSON output maps each input path to its files."""

    def __init__(self) -> None:
        self._used: dict[str, int] = {}

    def __call__(self, path: Any) -> str:
        stem = Path(str(path)).stem or "image"
        self._used[stem] = self._used.get(stem, 0) + 1
        return stem if self._used[stem] == 1 else f"{stem}-{self._used[stem]}"


def shown_paths(items: list[Any]) -> dict[str, str]:
    """How text tables name the inputs: each path relative to the folder all of them share (``a/x.jpg`` and
    ``b/x.jpg`` stay apart; one folder's images show as file names)."""
    import os

    paths = [str(p) for p in items if isinstance(p, (str, os.PathLike))]
    if not paths:
        return {}
    parents = [os.path.dirname(os.path.abspath(p)) for p in paths]
    try:
        root = os.path.commonpath(parents)
    except ValueError:  # different drives
        return {p: p for p in paths}
    return {p: os.path.relpath(os.path.abspath(p), root) for p in paths}


def save_png(image: "np.ndarray", path: Path, *, scale: int = 1) -> str:
    """Write a uint8 (H, W) or (H, W, 3) image as PNG, enlarged ``scale`` times (nearest); returns the path as the
    JSON output names it (:func:`genfer.render.save_png`, imported here: it loads torch)."""
    from genfer.render import save_png as write_png

    return str(write_png(image, path, scale=scale))


class BackgroundWriter:
    """Writes files (PNGs, arrays) in a background thread while the networks run on the next batch.

    ``submit(fn, *args)`` queues ``fn(*args)`` and returns its :class:`~concurrent.futures.Future`; at most
    ``max_pending`` writes wait (``submit`` blocks beyond, bounding memory). A failed write re-raises in the
    caller at the next ``submit`` or at :meth:`close`, which waits for every write: use it as a context manager
    so each file is written before the command returns. ``threads=0`` writes inline.
    """

    def __init__(self, *, threads: int = 1, max_pending: int = 256) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="genfer-write") if threads > 0 else None
        self._slots = threading.BoundedSemaphore(max(1, max_pending))
        self._futures: deque[Future] = deque()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        if self._pool is None:
            done: Future = Future()
            done.set_result(fn(*args, **kwargs))
            return done
        self._raise_failed()
        self._slots.acquire()
        try:
            future = self._pool.submit(fn, *args, **kwargs)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)
        return future

    def _raise_failed(self, *, block: bool = False) -> None:
        while self._futures and (block or self._futures[0].done()):
            self._futures.popleft().result()

    def close(self) -> None:
        """Wait for every queued write; re-raise the first that failed."""
        try:
            self._raise_failed(block=True)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        elif self._pool is not None:  # already failing: finish the queued writes, keep the original error
            self._pool.shutdown(wait=True)


def add_batch_options(p: argparse.ArgumentParser, *, batch_size: int, unit: str = "faces") -> None:
    """``--batch-size``, ``--precision`` and ``--progress`` of the batched generative commands."""
    p.add_argument("--batch-size", type=int, default=batch_size,
                   help=f"{unit} per network batch, across inputs (default {batch_size})")
    p.add_argument("--precision", default="float32", choices=["float32", "bfloat16"],
                   help="network arithmetic: float32 (default) or bfloat16 autocast (about 2x faster on CPUs with "
                        "AMX / AVX-512 BF16; images may differ by a few grey levels)")
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")


def check_batch_size(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, not {args.batch_size}")
    return args.batch_size


def progress_bar(args: argparse.Namespace, total: int, unit: str) -> Any:
    """A tqdm bar on stderr over ``total`` inputs: when stderr is a terminal (or ``--progress``), not with
    ``--quiet``; on a terminal it appears only once the command has run for a second (long inputs)."""
    from tqdm import tqdm

    forced = bool(getattr(args, "progress", False))
    show = not getattr(args, "quiet", False) and (forced or sys.stderr.isatty())
    return tqdm(total=total, unit=unit, file=sys.stderr, disable=not show, delay=0 if forced else 1.0)


FaceOutput = Callable[[Any, int, str, "BackgroundWriter"], tuple[dict, str, list]]
"""``(face, k, stem, writer) -> (record, line, pending)``: submits the k-th face's writes to ``writer``, returns
its record, its text line (what follows the input's name and face number) and the futures of its writes."""


def write_faces(args: argparse.Namespace, command: str, items: list[Any], results: Iterable[Any],
                face_output: FaceOutput, *, shown: dict[str, str] | None = None) -> int:
    """The per-face output loop of ``invert``, ``edit`` and ``neutralize --method latent``.

    ``results`` holds one result per item, in order (``path``, ``faces``, ``error``, ``readable``); ``face_output``
    writes each face in a :class:`BackgroundWriter` (``4 · --batch-size`` writes pending at most). Each input gives
    one record ``{"path", "faces", "error"}`` (its error as a text line too) to :class:`Results`; text lines name
    the input by ``shown[path]`` if given, else by its file name. Returns :func:`finish`'s exit code.
    """
    out, stems = Results(args), OutputNames()
    with BackgroundWriter(max_pending=4 * args.batch_size) as writer, progress_bar(args, len(items), "img") as bar:
        for res in results:
            stem = stems(res.path)
            name = shown.get(res.path, res.path) if shown is not None else Path(res.path).name
            faces, lines, pending = [], [], []
            for k, face in enumerate(res.faces):
                record, line, writes = face_output(face, k, stem, writer)
                faces.append(record)
                lines.append(f"{name:<40} {k + 1:>4} {line}")
                pending += writes
            if res.error:
                lines.append(f"{name:<40} {'-':>4} ({res.error})")
            out.add({"path": res.path, "faces": faces, "error": res.error}, lines,
                    unreadable=None if res.readable else res.error, pending=pending)
            bar.update(1)
        out.close()
    return finish(command, out.unreadable, len(items))


def import_ref(ref: str) -> Any:
    """``"module:attribute"`` -> the attribute (imported lazily)."""
    import importlib

    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)
