"""The fake provider's ASGI application: routing, body parsing and provider-shaped errors."""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping

import orjson

from contrail.local.fake import anthropic_messages, models, openai_chat, openai_embeddings, openai_responses
from contrail.local.fake.call import Call
from contrail.local.fake.errors import Dialect, ProviderError, body_too_large, malformed_json
from contrail.local.fake.exchange import ClientGone, Exchange, Receive, Scope, Send
from contrail.local.fake.script import FakeScript

logger = logging.getLogger(__name__)

Handler = Callable[[Call], Awaitable[None]]
_POST_ROUTES: dict[str, tuple[Handler, Dialect]] = {
    "/v1/chat/completions": (openai_chat.handle, "openai"),
    "/v1/responses": (openai_responses.handle, "openai"),
    "/v1/embeddings": (openai_embeddings.handle, "openai"),
    "/v1/messages": (anthropic_messages.handle, "anthropic"),
    "/v1/messages/count_tokens": (anthropic_messages.handle_count_tokens, "anthropic"),
}


class FakeLLMApp:
    """ASGI app speaking the OpenAI and Anthropic HTTP APIs, scripted by :attr:`script`.

    Assigning a new :class:`FakeScript` to ``app.script`` takes effect for the next request, which is how
    one live server is shared by many tests.
    """

    def __init__(self, script: FakeScript | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.script = script if script is not None else FakeScript()
        self._clock = clock
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        exchange = Exchange(scope, receive, send)
        try:
            await self._route(exchange)
        except ClientGone:
            logger.debug("client disconnected before the fake answered %s", scope["path"])
        finally:
            exchange.close()

    async def _route(self, exchange: Exchange) -> None:
        method, path = exchange.scope["method"], exchange.scope["path"].rstrip("/")
        if method == "POST" and path in _POST_ROUTES:
            handler, dialect = _POST_ROUTES[path]
            await self._answer(exchange, handler, dialect)
        elif method == "GET" and (path == "/v1/models" or path.startswith("/v1/models/")):
            dialect = "anthropic" if exchange.header(b"anthropic-version") else "openai"
            await self._guard(exchange, dialect, models.handle_models(self.script, path, dialect))
        elif method == "GET" and path in ("", "/health"):
            await exchange.send_json(200, b'{"status":"ok"}')
        else:
            status = 405 if path in _POST_ROUTES else 404
            error = ProviderError(status, f"Invalid URL ({method} {exchange.scope['path']})")
            await self._send_error(exchange, "openai", error)

    async def _answer(self, exchange: Exchange, handler: Handler, dialect: Dialect) -> None:
        script = self.script
        try:
            raw = await exchange.read_body(
                script.max_body_bytes, lambda: body_too_large(dialect, script.max_body_bytes)
            )
            body = _parse_body(raw, dialect)
            call = Call(exchange, script, body, dialect, self._next_id(), int(self._clock()))
            await handler(call)
        except ProviderError as error:
            await self._send_error(exchange, dialect, error)

    async def _guard(self, exchange: Exchange, dialect: Dialect, answer: Awaitable[bytes]) -> None:
        try:
            await exchange.send_json(200, await answer)
        except ProviderError as error:
            await self._send_error(exchange, dialect, error)

    async def _send_error(self, exchange: Exchange, dialect: Dialect, error: ProviderError) -> None:
        request_id = self._next_id()
        id_header = b"request-id" if dialect == "anthropic" else b"x-request-id"
        payload = orjson.dumps(error.body(dialect, f"req_{request_id}"))
        await exchange.send_json(error.status, payload, [(id_header, request_id.encode()), *error.headers()])

    def _next_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids):012x}"


def _parse_body(raw: bytes, dialect: Dialect) -> Mapping[str, object]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise malformed_json(dialect) from None
    if not isinstance(body, dict):
        raise malformed_json(dialect)
    return body


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_fake_llm_app(script: FakeScript | None = None) -> FakeLLMApp:
    """Create the fake provider ASGI app; ``script`` defaults to an empty :class:`FakeScript` (echo)."""
    return FakeLLMApp(script)
