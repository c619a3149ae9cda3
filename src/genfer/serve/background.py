"""Run a ``genfer serve`` application in a background thread (tests, benchmarks, screenshots).

>>> with BackgroundServer(app) as server:          # doctest: +SKIP
...     urllib.request.urlopen(server.url + "/health")
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

__all__ = ["BackgroundServer", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class BackgroundServer:
    """uvicorn serving ``app`` on ``host:port`` (a free port by default) in a daemon thread.

    Entering waits until the server accepts connections (and its startup, e.g. loading the models, is done);
    leaving stops it.
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int | None = None, timeout: float = 120.0) -> None:
        import uvicorn

        self.host, self.port = host, port or free_port(host)
        self.timeout = timeout
        self.server = uvicorn.Server(uvicorn.Config(app, host=self.host, port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="genfer-serve", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + self.timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
