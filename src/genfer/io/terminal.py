"""What reaches the user's terminal: native code's prints silenced, an exception told in one line."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def error_headline(exc: BaseException) -> str:
    """The first non-empty line of ``exc``'s message (tracers and exporters append pages), else its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def native_output_silenced(*fds: int) -> Iterator[None]:
    """Point the file descriptors ``fds`` (default 2, stderr) at /dev/null for the block.

    Hides what native code prints (MediaPipe's C++ notices, the ONNX exporter's graph dump on stdout); Python
    exceptions still propagate, only text written to those descriptors inside the block is lost.
    """
    fds = fds or (2,)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
        yield
    finally:
        for fd, keep in zip(fds, saved):
            os.dup2(keep, fd)
            os.close(keep)
        os.close(devnull)
