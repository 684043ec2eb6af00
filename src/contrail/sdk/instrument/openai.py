"""Trace the ``openai`` package: chat completions, responses and embeddings, sync and async.

Streaming calls keep their type (``openai.Stream``): only the stream's internal iterator is wrapped,
to time the first token and rebuild output and usage. For chat streams without ``stream_options``
the request asks for ``include_usage``; the extra usage-only chunk is hidden from the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contrail.sdk import guard
from contrail.sdk.instrument.call import Call, as_dict
from contrail.sdk.instrument.patch import unwrap_all, wrap_method
from contrail.sdk.span import Span

_USAGE = {
    "prompt_tokens": "input_tokens",
    "completion_tokens": "output_tokens",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "total_tokens": "total_tokens",
}


def instrument() -> bool:
    """Patch the openai resource classes once; False (one warning) when openai is missing."""
    try:
        from openai.resources import embeddings, responses
        from openai.resources.chat import completions
    except ImportError:
        guard.warn("instrument", "instrument_openai() needs the openai package: pip install openai")
        return False
    endpoints = [
        (completions.Completions, completions.AsyncCompletions, _Chat),
        (responses.Responses, responses.AsyncResponses, _Responses),
        (embeddings.Embeddings, embeddings.AsyncEmbeddings, _Embeddings),
    ]
    for sync_cls, async_cls, endpoint in endpoints:
        wrap_method(sync_cls, "create", endpoint.sync_wrapper)
        wrap_method(async_cls, "create", endpoint.async_wrapper)
    return True


def uninstrument() -> None:
    unwrap_all("openai.")


class _Endpoint:
    name = "openai"
    type = "generation"
    input_key = "input"

    @classmethod
    def prepare(cls, kwargs: dict[str, Any]) -> bool:
        """Adjust the request before sending; True when usage reporting was injected."""
        return False

    @classmethod
    def record(cls, span: Span, response: Any) -> None:
        raise NotImplementedError

    @classmethod
    def accumulator(cls, injected: bool) -> Any:
        raise NotImplementedError

    @classmethod
    def sync_wrapper(cls, original: Callable[..., Any]) -> Callable[..., Any]:
        def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            injected = _safe_prepare(cls, kwargs)
            call = Call.start(cls.name, cls.type, "openai", kwargs, cls.input_key)
            try:
                result = original(self, *args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            if kwargs.get("stream") is True and hasattr(result, "_iterator"):
                result._iterator = call.trace_stream(result._iterator, cls.accumulator(injected))
            else:
                call.succeed(lambda span: cls.record(span, result))
            return result

        return create

    @classmethod
    def async_wrapper(cls, original: Callable[..., Any]) -> Callable[..., Any]:
        async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            injected = _safe_prepare(cls, kwargs)
            call = Call.start(cls.name, cls.type, "openai", kwargs, cls.input_key)
            try:
                result = await original(self, *args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            if kwargs.get("stream") is True and hasattr(result, "_iterator"):
                result._iterator = call.trace_async_stream(result._iterator, cls.accumulator(injected))
            else:
                call.succeed(lambda span: cls.record(span, result))
            return result

        return create


def _safe_prepare(endpoint: type[_Endpoint], kwargs: dict[str, Any]) -> bool:
    try:
        return endpoint.prepare(kwargs)
    except Exception as exc:
        guard.report("instrument", exc)
        return False


def _usage(span: Span, usage: Any) -> None:
    data = as_dict(usage)
    if not isinstance(data, dict):
        return
    counts = {_USAGE[key]: value for key, value in data.items() if key in _USAGE}
    details_in = data.get("prompt_tokens_details") or data.get("input_tokens_details") or {}
    details_out = data.get("completion_tokens_details") or data.get("output_tokens_details") or {}
    if details_in.get("cached_tokens") is not None:
        counts["cached_input_tokens"] = details_in["cached_tokens"]
    if details_out.get("reasoning_tokens") is not None:
        counts["reasoning_tokens"] = details_out["reasoning_tokens"]
    if details_in.get("audio_tokens"):
        counts["audio_input_tokens"] = details_in["audio_tokens"]
    if details_out.get("audio_tokens"):
        counts["audio_output_tokens"] = details_out["audio_tokens"]
    span.set_usage(counts)


class _Chat(_Endpoint):
    name = "openai.chat.completions"
    input_key = "messages"

    @classmethod
    def prepare(cls, kwargs: dict[str, Any]) -> bool:
        if kwargs.get("stream") is True and kwargs.get("stream_options") in (None, *_omitted(kwargs)):
            kwargs["stream_options"] = {"include_usage": True}
            return True
        return False

    @classmethod
    def record(cls, span: Span, response: Any) -> None:
        data = as_dict(response)
        choices = data.get("choices") or []
        messages = [choice.get("message") for choice in choices]
        span.update(output=messages[0] if len(messages) == 1 else messages)
        span.model_response = data.get("model")
        if data.get("usage"):
            _usage(span, data["usage"])
        _finish_metadata(span, data.get("id"), [c.get("finish_reason") for c in choices])

    @classmethod
    def accumulator(cls, injected: bool) -> _ChatStream:
        return _ChatStream(injected)


def _omitted(kwargs: dict[str, Any]) -> tuple[Any, ...]:
    value = kwargs.get("stream_options")
    return (value,) if type(value).__name__ in ("NotGiven", "Omit") else ()


def _finish_metadata(span: Span, response_id: Any, reasons: list[Any]) -> None:
    meta: dict[str, Any] = {}
    if response_id:
        meta["response_id"] = response_id
    reasons = [reason for reason in reasons if reason]
    if reasons:
        meta["finish_reason"] = reasons[0] if len(reasons) == 1 else reasons
    if meta:
        span.add_metadata(meta)


class _ChatStream:
    """Rebuilds a streamed chat completion (choice 0) from its chunks."""

    def __init__(self, injected: bool) -> None:
        self.injected = injected
        self.text: list[str] = []
        self.tools: dict[int, dict[str, Any]] = {}
        self.model: str | None = None
        self.usage: Any = None
        self.finish_reason: str | None = None
        self.response_id: str | None = None

    def add(self, chunk: Any) -> bool:
        self.model = getattr(chunk, "model", None) or self.model
        self.response_id = getattr(chunk, "id", None) or self.response_id
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        choices = getattr(chunk, "choices", None) or []
        if not choices:
            return not (self.injected and usage is not None)
        choice = choices[0]
        self.finish_reason = getattr(choice, "finish_reason", None) or self.finish_reason
        delta = getattr(choice, "delta", None)
        if delta is not None:
            if getattr(delta, "content", None):
                self.text.append(delta.content)
            for call in getattr(delta, "tool_calls", None) or []:
                self._tool_delta(call)
        return True

    def _tool_delta(self, call: Any) -> None:
        entry = self.tools.setdefault(
            call.index, {"id": None, "type": "function", "name": "", "arguments": ""}
        )
        entry["id"] = getattr(call, "id", None) or entry["id"]
        function = getattr(call, "function", None)
        if function is not None:
            entry["name"] += getattr(function, "name", None) or ""
            entry["arguments"] += getattr(function, "arguments", None) or ""

    def finish(self, span: Span) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.text) or None}
        if self.tools:
            message["tool_calls"] = [
                {
                    "id": t["id"],
                    "type": "function",
                    "function": {"name": t["name"], "arguments": t["arguments"]},
                }
                for _, t in sorted(self.tools.items())
            ]
        span.update(output=message)
        span.model_response = self.model
        if self.usage is not None:
            _usage(span, self.usage)
        _finish_metadata(span, self.response_id, [self.finish_reason])


class _Responses(_Endpoint):
    name = "openai.responses"

    @classmethod
    def record(cls, span: Span, response: Any) -> None:
        data = as_dict(response)
        span.update(output=_responses_output(data))
        span.model_response = data.get("model")
        if data.get("usage"):
            _usage(span, data["usage"])
        _finish_metadata(span, data.get("id"), [data.get("status")])

    @classmethod
    def accumulator(cls, injected: bool) -> _ResponsesStream:
        return _ResponsesStream()


def _responses_output(data: dict[str, Any]) -> Any:
    """The text the model wrote, or the list of output items when it also called tools."""
    items = data.get("output") or []
    texts = [
        part.get("text", "")
        for item in items
        if item.get("type") == "message"
        for part in item.get("content") or []
        if part.get("type") == "output_text"
    ]
    if all(item.get("type") == "message" for item in items):
        return "".join(texts)
    return items


class _ResponsesStream:
    """Uses the final ``response.completed`` event; falls back to the text deltas."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.final: Any = None

    def add(self, event: Any) -> bool:
        kind = getattr(event, "type", "")
        if kind == "response.output_text.delta":
            self.text.append(getattr(event, "delta", "") or "")
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = getattr(event, "response", None)
        return True

    def finish(self, span: Span) -> None:
        if self.final is not None:
            _Responses.record(span, self.final)
        else:
            span.update(output="".join(self.text))


class _Embeddings(_Endpoint):
    name = "openai.embeddings"
    type = "embedding"

    @classmethod
    def record(cls, span: Span, response: Any) -> None:
        data = as_dict(response)
        vectors = data.get("data") or []
        first = vectors[0].get("embedding") if vectors else None
        meta: dict[str, Any] = {"embeddings.count": len(vectors)}
        if isinstance(first, list):
            meta["embeddings.dimensions"] = len(first)
        span.add_metadata(meta)
        span.model_response = data.get("model")
        if data.get("usage"):
            _usage(span, data["usage"])

    @classmethod
    def accumulator(cls, injected: bool) -> Any:
        raise NotImplementedError("embeddings do not stream")
