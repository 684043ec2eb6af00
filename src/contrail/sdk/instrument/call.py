"""One traced provider call: the span's life from request to response, error or end of stream.

Provider modules describe *what* to read from requests, responses and stream events; this module
owns *how* a call is recorded: start a generation span (child of the current span), record errors
with their HTTP status code, measure time to first token, finish exactly once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

from contrail.sdk import guard
from contrail.sdk import tracer as _tracer
from contrail.sdk.instrument.tokens import estimate_tokens
from contrail.sdk.prompts import linked_prompt
from contrail.sdk.span import Span

_PARAMETERS = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "stop",
    "stop_sequences",
    "n",
    "response_format",
    "tool_choice",
    "reasoning_effort",
    "dimensions",
    "encoding_format",
)


class Accumulator(Protocol):
    """Rebuilds a streamed response: fed every event, then asked for output and usage."""

    def add(self, event: Any) -> bool:
        """Take one stream event; return False to hide it from the caller (an injected usage chunk)."""
        ...

    def finish(self, span: Span) -> None:
        """Write output, usage, returned model and finish reason to ``span``."""
        ...


class Call:
    """A started provider call. Every method is safe: SDK failures are reported, never raised."""

    def __init__(self, span: Span | None, tracer: _tracer.Tracer | None) -> None:
        self.span = span
        self.tracer = tracer
        self.started = time.perf_counter_ns()

    @classmethod
    def start(cls, name: str, type_: str, provider: str, kwargs: dict[str, Any], input_key: str) -> Call:
        try:
            tracer = _tracer.current_tracer()
            if not tracer.enabled:
                return cls(None, None)
            span = tracer.start(name, type_)
            if span.sampled:
                _describe(span, provider, kwargs, input_key, tracer.capture)
            return cls(span, tracer)
        except Exception as exc:
            guard.report("instrument", exc)
            return cls(None, None)

    def succeed(self, record: Callable[[Span], None]) -> None:
        if self.span is None:
            return
        try:
            record(self.span)
            self._end()
        except Exception as exc:
            guard.report("instrument", exc)

    def fail(self, exc: BaseException) -> None:
        if self.span is None:
            return
        try:
            self.span.record_error(exc, status_code=getattr(exc, "status_code", None))
            self._end()
        except Exception as bug:
            guard.report("instrument", bug)

    def _end(self) -> None:
        span, tracer = self.span, self.tracer
        if span is None or tracer is None:
            return
        if span.status == "unset":
            span.status = "ok"
        if span.usage is None and span.type == "generation" and span.output is not None:
            _estimate_usage(span)
        tracer.finish(span)

    def first_token(self) -> None:
        if self.span is not None and self.span.ttft_us is None:
            self.span.ttft_us = (time.perf_counter_ns() - self.started) // 1000

    def trace_stream(self, events: Iterator[Any], acc: Accumulator) -> Iterator[Any]:
        """Yield ``events`` unchanged (minus hidden ones), recording TTFT, output and usage."""
        try:
            for event in events:
                self.first_token()
                if self._add(acc, event):
                    yield event
        except GeneratorExit:  # the caller stopped reading: record what arrived so far
            self.succeed(functools.partial(_closed_early, acc))
            raise
        except BaseException as exc:
            self.fail(exc)
            raise
        self.succeed(acc.finish)

    async def trace_async_stream(self, events: AsyncIterator[Any], acc: Accumulator) -> AsyncIterator[Any]:
        try:
            async for event in events:
                self.first_token()
                if self._add(acc, event):
                    yield event
        except GeneratorExit:  # the caller stopped reading: record what arrived so far
            self.succeed(functools.partial(_closed_early, acc))
            raise
        except BaseException as exc:
            self.fail(exc)
            raise
        self.succeed(acc.finish)

    def _add(self, acc: Accumulator, event: Any) -> bool:
        try:
            return acc.add(event)
        except Exception as exc:  # a parsing bug must not cut the user's stream
            guard.report("instrument", exc)
            return True


def _describe(span: Span, provider: str, kwargs: dict[str, Any], input_key: str, capture: bool) -> None:
    span.provider = provider
    model = kwargs.get("model")
    if isinstance(model, str):
        span.model_requested = model
    params = {key: kwargs[key] for key in _PARAMETERS if _given(kwargs.get(key))}
    if params:
        span.update(model_parameters=params)
    if capture:
        request = kwargs.get(input_key)
        system = kwargs.get("system") if provider == "anthropic" else kwargs.get("instructions")
        if _given(system) and _given(request):
            request = {"system": system, input_key: request}
        if _given(request):
            span.update(input=request)
    _link_prompt(span, kwargs.get(input_key), kwargs.get("system"), kwargs.get("instructions"))
    extra = {key: kwargs[key] for key in ("tools", "user", "metadata") if _given(kwargs.get(key))}
    if extra:
        span.add_metadata({f"request.{key}": value for key, value in extra.items()})


def _link_prompt(span: Span, *request_parts: Any) -> None:
    """Record the registry prompt the request was compiled from (see contrail.sdk.prompts)."""
    prompt = linked_prompt(*request_parts)
    if prompt is not None:
        span.prompt_name = prompt.name
        span.prompt_version = prompt.version


def _closed_early(acc: Accumulator, span: Span) -> None:
    acc.finish(span)
    span.add_metadata({"stream.closed_early": True})


def _given(value: Any) -> bool:
    """False for None and the SDKs' ``NOT_GIVEN`` / ``omit`` sentinels."""
    return value is not None and type(value).__name__ not in ("NotGiven", "Omit")


def _estimate_usage(span: Span) -> None:
    span.usage = {"input_tokens": estimate_tokens(span.input), "output_tokens": estimate_tokens(span.output)}
    span.add_metadata({"usage_estimated": True})


def as_dict(obj: Any) -> Any:
    """A provider response object as plain data (pydantic models from both SDKs)."""
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True)
    return obj
