"""One training process per run folder: a lock file holding the pid of the process training there.

``RunLock(run_dir)`` (a context manager) creates ``run_dir/.lock`` exclusively. A lock whose process is still
alive (on this machine) refuses the second run with :class:`RunLockedError`; a stale lock (its process has
died, e.g. after ``kill -9``) is taken over.
"""

from __future__ import annotations

import os
from pathlib import Path

LOCK_FILE = ".lock"


class RunLockedError(ValueError):
    """Another live process is training in this run folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def lock_owner(run_dir: str | Path) -> int | None:
    """The pid of the live process holding ``run_dir``'s lock, or None (no lock, or a stale one)."""
    try:
        pid = int((Path(run_dir) / LOCK_FILE).read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    return pid if pid != os.getpid() and _alive(pid) else None


def check_unlocked(run_dir: str | Path) -> None:
    """Raise :class:`RunLockedError` when another live process trains in ``run_dir``."""
    pid = lock_owner(run_dir)
    if pid is not None:
        raise RunLockedError(f"{run_dir} is being trained by process {pid} (lock file {Path(run_dir) / LOCK_FILE}); "
                             f"wait for it to finish or use another --out")


class RunLock:
    """Hold ``run_dir/.lock`` (with this process's pid) for the duration of a ``with`` block."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self.held = False

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):  # a second try after removing a stale lock
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                check_unlocked(self.path.parent)
                self.path.unlink(missing_ok=True)  # stale, or our own
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
            self.held = True
            return self
        check_unlocked(self.path.parent)
        raise RunLockedError(f"cannot take the lock {self.path}")

    def __exit__(self, *_: object) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
