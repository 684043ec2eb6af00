"""An OpenAI-compatible HTTP endpoint for the local model: chat completions (plain and SSE) and models.

Any requested model name is answered by the local model. llama.cpp answers one request at a time, so
requests queue; each runs in a worker thread so the event loop stays responsive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from contrail.local.model import DEFAULT_MODEL_NAME, LocalModel

logger = logging.getLogger(__name__)


def _error(status: int, message: str, param: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}
    return JSONResponse(body, status_code=status)


def create_local_model_app(model: LocalModel) -> Starlette:
    """The ASGI app serving ``model`` at ``/v1/chat/completions`` and ``/v1/models``."""

    async def chat_completions(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return _error(400, "We could not parse the JSON body of your request.")
        for field in ("model", "messages"):
            if field not in body:
                return _error(400, f"Missing required parameter: '{field}'.", field)
        if body.get("stream") is True:
            return StreamingResponse(_stream(model, body), media_type="text/event-stream")
        try:
            result = await asyncio.to_thread(model.chat, body)
        except ValueError as err:
            return _error(400, str(err))
        return Response(orjson.dumps(result), media_type="application/json")

    async def models(_: Request) -> Response:
        entry = {"id": DEFAULT_MODEL_NAME, "object": "model", "created": 0, "owned_by": "contrail-local"}
        return JSONResponse({"object": "list", "data": [entry]})

    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
    ]
    return Starlette(routes=routes)


async def _stream(model: LocalModel, body: dict[str, Any]) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    # Unbounded on purpose: the stream is bounded by max_tokens and n_ctx, and llama.cpp must never block.
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    stop = False

    def on_chunk(chunk: dict[str, Any]) -> bool:
        loop.call_soon_threadsafe(queue.put_nowait, chunk)
        return stop

    async def generate() -> None:
        try:
            await asyncio.to_thread(model.stream_chat, body, on_chunk)
        except ValueError as err:
            logger.warning("the local model rejected a streaming request: %s", err)
            queue.put_nowait({"error": {"message": str(err), "type": "invalid_request_error"}})
        finally:
            queue.put_nowait(None)

    task = asyncio.create_task(generate())
    try:
        while (chunk := await queue.get()) is not None:
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        yield b"data: [DONE]\n\n"
    finally:
        # Ends normally or because the client left: either way llama.cpp stops at its next token.
        stop = True
        await task


def serve_forever(model: LocalModel, *, host: str = "127.0.0.1", port: int = 8766) -> None:
    """Serve ``model`` with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_local_model_app(model), host=host, port=port, access_log=False, log_level="info")
