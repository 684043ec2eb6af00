"""One HTTP exchange over raw ASGI: bounded body reads, JSON and SSE replies, cancellable pauses.

The fake provider speaks ASGI directly (no framework) because it is the upstream of later benchmarks and
must not be their bottleneck.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from contrail.local.fake.errors import ProviderError
from contrail.local.fake.script import MAX_DELAY_S

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]


class ClientGone(Exception):
    """The client disconnected while the fake was waiting; nothing more can be sent."""


class ConnectionDropped(Exception):
    """Raised on purpose to make the server close the connection mid-response (scripted ``drop``)."""


class DroppedConnectionLogFilter(logging.Filter):
    """Hides the server's traceback for deliberate drops; every other error is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


def quiet_deliberate_drops() -> None:
    """Install :class:`DroppedConnectionLogFilter` on uvicorn's error logger (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, DroppedConnectionLogFilter) for f in logger.filters):
        logger.addFilter(DroppedConnectionLogFilter())


class Exchange:
    """Reads the request and writes the response of one ASGI ``http`` call."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self._disconnect: asyncio.Future[Message] | None = None

    def header(self, name: bytes) -> str | None:
        """The first request header called ``name`` (lower case), decoded as latin-1."""
        for key, value in self.scope["headers"]:
            if key == name:
                return bytes(value).decode("latin-1")
        return None

    async def read_body(self, limit: int, too_large: Callable[[], ProviderError]) -> bytes:
        """The whole request body; raises ``too_large()`` as soon as it exceeds ``limit`` bytes."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def send_json(
        self, status: int, payload: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        """Send a complete JSON response."""
        await self._send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*JSON_HEADERS, (b"content-length", str(len(payload)).encode()), *headers],
            }
        )
        await self._send({"type": "http.response.body", "body": payload})

    async def send_partial_json(self, payload: bytes, headers: Sequence[tuple[bytes, bytes]]) -> None:
        """Announce ``payload`` but send only half of it, then drop the connection."""
        await self._send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*JSON_HEADERS, (b"content-length", str(len(payload)).encode()), *headers],
            }
        )
        await self._send(
            {"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": True}
        )
        raise ConnectionDropped("scripted drop of a non-streaming response")

    async def start_stream(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        """Send the headers of a ``text/event-stream`` response."""
        await self._send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]})

    async def send_chunk(self, data: bytes, *, last: bool = False) -> None:
        """Send part of a streamed body (``last`` ends the response)."""
        await self._send({"type": "http.response.body", "body": data, "more_body": not last})

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (capped at ``MAX_DELAY_S``); raise :class:`ClientGone` if the client leaves."""
        if seconds <= 0:
            return
        if self._disconnect is None:
            self._disconnect = asyncio.ensure_future(self._receive())
        done, _ = await asyncio.wait({self._disconnect}, timeout=min(seconds, MAX_DELAY_S))
        if done:
            raise ClientGone

    def close(self) -> None:
        """Stop listening for a disconnect (called once the response is over)."""
        if self._disconnect is not None and not self._disconnect.done():
            self._disconnect.cancel()
