"""Trace the ``anthropic`` package: ``messages.create`` (plain and ``stream=True``) and
``messages.stream()``, sync and async.

As for OpenAI, streams keep their type: only the raw stream's internal iterator is wrapped. Anthropic
always reports usage in ``message_start`` / ``message_delta`` events, so nothing is injected.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from contrail.sdk import guard
from contrail.sdk.instrument.call import Call, as_dict
from contrail.sdk.instrument.patch import unwrap_all, wrap_method
from contrail.sdk.span import Span

_NAME = "anthropic.messages"
_MANAGER_REQUEST = "_{cls}__api_request"


def instrument() -> bool:
    """Patch the anthropic Messages classes once; False (one warning) when anthropic is missing."""
    try:
        from anthropic.resources import messages
    except ImportError:
        guard.warn("instrument", "instrument_anthropic() needs the anthropic package: pip install anthropic")
        return False
    wrap_method(messages.Messages, "create", _sync_create)
    wrap_method(messages.AsyncMessages, "create", _async_create)
    wrap_method(messages.Messages, "stream", _stream_helper)
    wrap_method(messages.AsyncMessages, "stream", _stream_helper)
    return True


def uninstrument() -> None:
    unwrap_all("anthropic.")


def _start(kwargs: dict[str, Any]) -> Call:
    return Call.start(_NAME, "generation", "anthropic", kwargs, "messages")


def _sync_create(original: Callable[..., Any]) -> Callable[..., Any]:
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = _start(kwargs)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if kwargs.get("stream") is True and hasattr(result, "_iterator"):
            result._iterator = call.trace_stream(result._iterator, _MessageStream())
        else:
            call.succeed(lambda span: record(span, result))
        return result

    return create


def _async_create(original: Callable[..., Any]) -> Callable[..., Any]:
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = _start(kwargs)
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if kwargs.get("stream") is True and hasattr(result, "_iterator"):
            result._iterator = call.trace_async_stream(result._iterator, _MessageStream())
        else:
            call.succeed(lambda span: record(span, result))
        return result

    return create


def _stream_helper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``messages.stream()`` returns a manager that sends the request on ``__enter__``: wrap that."""

    def stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        manager = original(self, *args, **kwargs)
        attribute = _MANAGER_REQUEST.format(cls=type(manager).__name__)
        request = getattr(manager, attribute, None)
        if request is None:
            guard.warn("instrument", "anthropic messages.stream() changed shape; it is not traced")
            return manager
        setattr(manager, attribute, _traced_request(request, kwargs))
        return manager

    return stream


def _traced_request(request: Any, kwargs: dict[str, Any]) -> Any:
    """The sync manager holds a function sending the request; the async one an awaitable."""
    if inspect.isawaitable(request):
        return _send_async(request, kwargs)

    def send() -> Any:
        call = _start(kwargs)
        try:
            raw = request()
        except BaseException as exc:
            call.fail(exc)
            raise
        if hasattr(raw, "_iterator"):
            raw._iterator = call.trace_stream(raw._iterator, _MessageStream())
        return raw

    return send


async def _send_async(request: Awaitable[Any], kwargs: dict[str, Any]) -> Any:
    call = _start(kwargs)
    try:
        raw = await request
    except BaseException as exc:
        call.fail(exc)
        raise
    if hasattr(raw, "_iterator"):
        raw._iterator = call.trace_async_stream(raw._iterator, _MessageStream())
    return raw


def record(span: Span, response: Any) -> None:
    data = as_dict(response)
    span.update(output=_output(data.get("content") or []))
    span.model_response = data.get("model")
    if data.get("usage"):
        _usage(span, data["usage"])
    _metadata(span, data.get("id"), data.get("stop_reason"))


def _output(blocks: list[dict[str, Any]]) -> Any:
    """The text when the model only wrote text, else the content blocks (tool_use included)."""
    if all(block.get("type") == "text" for block in blocks):
        return "".join(block.get("text", "") for block in blocks)
    return blocks


def _usage(span: Span, usage: Any) -> None:
    """Anthropic's input_tokens exclude cache reads and writes; ours (like OpenAI's) include them."""
    data = as_dict(usage)
    counts = {key: data[key] for key in ("input_tokens", "output_tokens") if data.get(key) is not None}
    cached, written = data.get("cache_read_input_tokens"), data.get("cache_creation_input_tokens")
    if "input_tokens" in counts:
        counts["input_tokens"] += (cached or 0) + (written or 0)
    if cached is not None:
        counts["cached_input_tokens"] = cached
    if written:
        counts["cache_write_input_tokens"] = written
    span.set_usage(counts)


def _metadata(span: Span, message_id: Any, stop_reason: Any) -> None:
    meta = {"response_id": message_id, "finish_reason": stop_reason}
    span.add_metadata({key: value for key, value in meta.items() if value})


class _MessageStream:
    """Rebuilds a streamed message from raw events (content blocks, usage, stop reason)."""

    def __init__(self) -> None:
        self.blocks: dict[int, dict[str, Any]] = {}
        self.json_parts: dict[int, list[str]] = {}
        self.model: str | None = None
        self.message_id: str | None = None
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None

    def add(self, event: Any) -> bool:
        kind = getattr(event, "type", "")
        if kind == "message_start":
            message = as_dict(event.message)
            self.model, self.message_id = message.get("model"), message.get("id")
            self.usage.update(message.get("usage") or {})
        elif kind == "content_block_start":
            self.blocks[event.index] = as_dict(event.content_block)
        elif kind == "content_block_delta":
            self._delta(event.index, as_dict(event.delta))
        elif kind == "message_delta":
            self.stop_reason = getattr(event.delta, "stop_reason", None) or self.stop_reason
            usage = as_dict(getattr(event, "usage", None)) or {}
            self.usage.update({key: value for key, value in usage.items() if value is not None})
        return True

    def _delta(self, index: int, delta: dict[str, Any]) -> None:
        block = self.blocks.setdefault(index, {"type": "text", "text": ""})
        if delta.get("type") == "text_delta":
            block["text"] = block.get("text", "") + delta.get("text", "")
        elif delta.get("type") == "input_json_delta":
            self.json_parts.setdefault(index, []).append(delta.get("partial_json", ""))
        elif delta.get("type") == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")

    def finish(self, span: Span) -> None:
        for index, parts in self.json_parts.items():
            try:
                self.blocks[index]["input"] = json.loads("".join(parts) or "{}")
            except ValueError:
                self.blocks[index]["input"] = "".join(parts)
        span.update(output=_output([self.blocks[i] for i in sorted(self.blocks)]))
        span.model_response = self.model
        if self.usage:
            _usage(span, self.usage)
        _metadata(span, self.message_id, self.stop_reason)
