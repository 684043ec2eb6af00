"""``span()`` / ``generation()``: trace a block of code with ``with`` or ``async with``."""

from __future__ import annotations

import contextvars
from types import TracebackType
from typing import TYPE_CHECKING, Any

from contrail.sdk import guard
from contrail.sdk import tracer as _tracer
from contrail.sdk.context import current
from contrail.sdk.span import _UNSET, TYPES, Span

if TYPE_CHECKING:
    from contrail.sdk.prompts import Prompt


class SpanScope:
    """Starts a span on enter, makes it current, ends it on exit (recording any exception).

    The span is yielded by ``with``; if tracing is off or the SDK fails, a detached span that is
    never exported is yielded instead, so the block runs unchanged.
    """

    def __init__(self, name: str, type_: str = "span", **fields: Any) -> None:
        self._name = name
        self._type = type_ if type_ in TYPES else "span"
        self._fields = fields
        self._token: contextvars.Token[Span | None] | None = None
        self._tracer: _tracer.Tracer | None = None
        self.span: Span = _detached(name)

    def __enter__(self) -> Span:
        try:
            tracer = _tracer.STATE or _tracer.init()
            if not tracer.enabled:
                return self.span
            span = tracer.start(self._name, self._type)
            fields = {k: v for k, v in self._fields.items() if v is not _UNSET}
            if not tracer.capture:
                fields.pop("input", None)
            span.update(**fields)
            self._tracer, self.span = tracer, span
            self._token = current.set(span)
        except Exception as exc:
            guard.report("span", exc)
        return self.span

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tracer is None:
            return
        try:
            if self._token is not None:
                token, self._token = self._token, None
                current.reset(token)
            if exc is not None:
                self.span.record_error(exc)
            elif self.span.status == "unset":
                self.span.status = "ok"
            self._tracer.finish(self.span)
        except Exception as bug:  # never mask the block's own outcome
            guard.report("span", bug)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def _detached(name: str) -> Span:
    span = Span(0, 0, 0, name, "span", 0)
    span.sampled = False
    return span


def span(
    name: str,
    *,
    type: str = "span",
    input: Any = _UNSET,
    output: Any = _UNSET,
    metadata: dict[str, Any] | None = None,
    level: str | None = None,
    version: str | None = None,
    tags: list[str] | None = None,
) -> SpanScope:
    """Trace the ``with`` block as an observation of ``type`` (span, tool, retriever, agent, ...)."""
    return SpanScope(
        name, type, input=input, output=output, metadata=metadata, level=level, version=version, tags=tags
    )


def generation(
    name: str,
    *,
    model: str | None = None,
    input: Any = _UNSET,
    model_parameters: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    prompt_name: str | None = None,
    prompt_version: int | None = None,
    prompt: Prompt | None = None,
) -> SpanScope:
    """Trace a model call; set ``output`` and ``usage`` on the yielded span with ``update()``.

    ``prompt`` (from ``contrail.get_prompt``) records its name and version, unless it is a fallback.
    """
    if prompt is not None and not prompt.is_fallback:
        prompt_name, prompt_version = prompt.name, prompt.version
    return SpanScope(
        name,
        "generation",
        model=model,
        input=input,
        model_parameters=model_parameters,
        metadata=metadata,
        prompt_name=prompt_name,
        prompt_version=prompt_version,
    )
