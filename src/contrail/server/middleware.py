"""ASGI middleware applied to every request."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from contrail.server.errors import error_response


class RejectNulInUrl:
    """Answer 400 to URLs holding a NUL character (raw or %00).

    Stored text never holds NUL (ingest replaces it), and PostgreSQL refuses it in parameters, so a
    NUL in a path or filter could only match nothing or fail deep inside a query.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
            if b"\x00" in raw or b"%00" in raw or "\x00" in scope.get("path", ""):
                response = error_response(400, "bad_request", "URLs must not contain NUL characters.")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
