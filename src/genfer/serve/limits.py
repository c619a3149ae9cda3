"""An ASGI middleware that answers 413 to request bodies over a size limit, without reading them whole."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

__all__ = ["UploadLimit", "too_large_message"]

Message = dict[str, Any]
ASGIApp = Callable[[Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def too_large_message(size: int | None, limit: int) -> str:
    """One line for a rejected upload of ``size`` bytes (None: unknown, more than ``limit``)."""
    what = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return f"upload too large: {what}; this server takes at most {limit} bytes per request (genfer serve --max-upload-mb)"


class UploadLimit:
    """Reject request bodies over ``max_bytes`` with ``413 {"error": ...}``.

    A declared ``Content-Length`` over the limit is rejected before any byte of the body is read; a body without
    one (chunked) is counted as it arrives and rejected as soon as it passes the limit (whatever the application
    would have answered is dropped).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Callable[[Message], Awaitable[None]], size: int | None) -> None:
        body = json.dumps({"error": too_large_message(size, self.max_bytes)}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Message, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send, int(declared))
            return
        state = {"received": 0, "over": False}

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["over"] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not state["over"]:
                await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not state["over"]:
                raise
        if state["over"]:
            await self._reject(send, None)
