"""``@observe``: trace calls of sync and async functions, generators and async generators.

The wrapper records a span around each call: inputs (bound to parameter names) and output are
snapshotted when capture is on, exceptions are recorded and re-raised unchanged. Any failure inside
the SDK itself is reported to the guard and the user's function runs as if undecorated.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar, overload

from contrail.sdk import guard, snapshot
from contrail.sdk import tracer as _tracer
from contrail.sdk.context import current
from contrail.sdk.span import TYPES, Span

F = TypeVar("F", bound=Callable[..., Any])


@overload
def observe(func: F, /) -> F: ...


@overload
def observe(
    func: None = None,
    /,
    *,
    name: str | None = None,
    as_type: str = "span",
    type: str | None = None,
    capture_input: bool = True,
    capture_output: bool = True,
) -> Callable[[F], F]: ...


def observe(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    as_type: str = "span",
    type: str | None = None,
    capture_input: bool = True,
    capture_output: bool = True,
) -> Any:
    """Trace every call of the decorated function as a span (or ``as_type`` observation).

    Usable bare (``@observe``) or with options (``@observe(name="rag", as_type="retriever")``).
    ``capture_input`` / ``capture_output`` switch capture off for this function; the global
    ``CONTRAIL_CAPTURE=0`` switches it off everywhere.
    """
    kind = type or as_type
    if kind not in TYPES:
        guard.warn("observe", f"Unknown observation type {kind!r}; using 'span'. Known: {sorted(TYPES)}")
        kind = "span"

    def decorate(fn: F) -> F:
        if isinstance(fn, (classmethod, staticmethod)):  # @observe placed above @classmethod
            rewrapped: F = fn.__class__(decorate(fn.__func__))
            return rewrapped
        label = name or str(getattr(fn, "__name__", "call"))
        traced: F = _Traced(fn, label, kind, capture_input, capture_output).wrap()
        return traced

    return decorate if func is None else decorate(func)


class _Traced:
    """Everything the wrappers of one decorated function need, computed once at decoration time."""

    def __init__(self, fn: Any, name: str, kind: str, capture_input: bool, capture_output: bool) -> None:
        self.fn = fn
        self.name = name
        self.kind = kind
        self.capture_input = capture_input
        self.capture_output = capture_output
        self.names, self.skip_first, self.rest = _parameters(fn)

    def wrap(self) -> Any:  # the wrapper has fn's signature; typed as Any for mypy
        fn = self.fn
        if inspect.isasyncgenfunction(fn):
            wrapper = self._async_generator()
        elif inspect.iscoroutinefunction(fn):
            wrapper = self._coroutine()
        elif inspect.isgeneratorfunction(fn):
            wrapper = self._generator()
        else:
            wrapper = self._function()
        return functools.wraps(fn)(wrapper)

    def begin(self, tracer: _tracer.Tracer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Span:
        span = tracer.start(self.name, self.kind)
        if self.capture_input and tracer.capture and span.sampled:
            self.capture(span, args, kwargs)
        return span

    def inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        return snapshot.snapshot_fields(self.bind(args, kwargs))

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Arguments by parameter name (``self``/``cls`` left out, extra positionals under *args)."""
        if self.skip_first and args:
            args = args[1:]
        names = self.names
        bound = dict(zip(names, args, strict=False), **kwargs) if args else dict(kwargs)
        if len(args) > len(names):
            bound[self.rest] = args[len(names) :]
        return bound

    def capture(self, span: Span, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Record the call's arguments on ``span``.

        When every value is immutable (numbers, short strings...) the raw args are kept and bound
        to parameter names at export time, off the hot path; otherwise they are snapshotted now.
        """
        if _all_immutable(args[1:] if self.skip_first else args, kwargs):
            span.raw_input = (self.bind, args, kwargs)
        else:
            span.input = self.inputs(args, kwargs)

    def end(self, tracer: _tracer.Tracer, span: Span, output: Any) -> None:
        try:
            if self.capture_output and output is not None and tracer.capture and span.sampled:
                kind = type(output)
                if kind in snapshot.IMMUTABLE or (
                    kind is str and len(output) <= snapshot.DEFAULT_LIMITS.max_chars
                ):
                    span.output = output
                else:
                    span.output = snapshot.snapshot(output)
            if span.status == "unset":
                span.status = "ok"
            if span.end_ns is None:
                span.end_ns = tracer.now_ns()
                if span.sampled:
                    tracer.submit(span)
        except Exception as exc:  # finishing a span must never affect the caller's result
            guard.report("observe", exc)

    def fail(self, tracer: _tracer.Tracer, span: Span, exc: BaseException) -> None:
        try:
            span.record_error(exc)
            tracer.finish(span)
        except Exception as bug:  # the user's exception is re-raised by the caller either way
            guard.report("observe", bug)

    # The two wrappers below are the hot path: they inline begin() to save calls (~0.1 µs each).
    def _function(self) -> Callable[..., Any]:
        fn, name, kind, capture_input, capture = (
            self.fn,
            self.name,
            self.kind,
            self.capture_input,
            self.capture,
        )
        end, fail, set_current, reset_current = self.end, self.fail, current.set, current.reset

        def traced_call(*args: Any, **kwargs: Any) -> Any:
            tracer = _tracer.STATE or _tracer.init()
            if not tracer.enabled:
                return fn(*args, **kwargs)
            try:
                span = tracer.start(name, kind)
                if capture_input and tracer.capture and span.sampled:
                    capture(span, args, kwargs)
                token = set_current(span)
            except Exception as exc:
                guard.report("observe", exc)
                return fn(*args, **kwargs)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                reset_current(token)
                fail(tracer, span, exc)
                raise
            reset_current(token)
            end(tracer, span, result)
            return result

        return traced_call

    def _coroutine(self) -> Callable[..., Any]:
        fn, name, kind, capture_input, capture = (
            self.fn,
            self.name,
            self.kind,
            self.capture_input,
            self.capture,
        )
        end, fail, set_current, reset_current = self.end, self.fail, current.set, current.reset

        async def traced_coroutine(*args: Any, **kwargs: Any) -> Any:
            tracer = _tracer.STATE or _tracer.init()
            if not tracer.enabled:
                return await fn(*args, **kwargs)
            try:
                span = tracer.start(name, kind)
                if capture_input and tracer.capture and span.sampled:
                    capture(span, args, kwargs)
                token = set_current(span)
            except Exception as exc:
                guard.report("observe", exc)
                return await fn(*args, **kwargs)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                reset_current(token)
                fail(tracer, span, exc)
                raise
            reset_current(token)
            end(tracer, span, result)
            return result

        return traced_coroutine

    def _generator(self) -> Callable[..., Any]:
        fn = self.fn

        def traced_generator(*args: Any, **kwargs: Any) -> Any:
            tracer = _tracer.STATE or _tracer.init()
            if not tracer.enabled:
                return fn(*args, **kwargs)
            try:
                span = self.begin(tracer, args, kwargs)
            except Exception as exc:
                guard.report("observe", exc)
                return fn(*args, **kwargs)
            return self._drive(tracer, span, fn(*args, **kwargs))

        return traced_generator

    def _drive(
        self, tracer: _tracer.Tracer, span: Span, gen: Generator[Any, Any, Any]
    ) -> Generator[Any, Any, Any]:
        items = _Collector(self.capture_output and tracer.capture)
        value: Any = None
        thrown: BaseException | None = None
        while True:
            token = current.set(span)
            try:
                item = gen.send(value) if thrown is None else gen.throw(thrown)
            except StopIteration as stop:
                self.end(tracer, span, items.output())
                return stop.value
            except BaseException as exc:
                self.fail(tracer, span, exc)
                raise
            finally:
                current.reset(token)
            items.add(item)
            value, thrown = None, None
            try:
                value = yield item
            except GeneratorExit:
                gen.close()
                self.end(tracer, span, items.output())
                raise
            except BaseException as exc:
                thrown = exc

    def _async_generator(self) -> Callable[..., Any]:
        fn = self.fn

        def traced_async_generator(*args: Any, **kwargs: Any) -> Any:
            tracer = _tracer.STATE or _tracer.init()
            if not tracer.enabled:
                return fn(*args, **kwargs)
            try:
                span = self.begin(tracer, args, kwargs)
            except Exception as exc:
                guard.report("observe", exc)
                return fn(*args, **kwargs)
            return self._adrive(tracer, span, fn(*args, **kwargs))

        return traced_async_generator

    async def _adrive(
        self, tracer: _tracer.Tracer, span: Span, agen: AsyncGenerator[Any, Any]
    ) -> AsyncGenerator[Any, Any]:
        items = _Collector(self.capture_output and tracer.capture)
        value: Any = None
        thrown: BaseException | None = None
        while True:
            token = current.set(span)
            try:
                item = await (agen.asend(value) if thrown is None else agen.athrow(thrown))
            except StopAsyncIteration:
                self.end(tracer, span, items.output())
                return
            except BaseException as exc:
                self.fail(tracer, span, exc)
                raise
            finally:
                current.reset(token)
            items.add(item)
            value, thrown = None, None
            try:
                value = yield item
            except GeneratorExit:
                await agen.aclose()
                self.end(tracer, span, items.output())
                raise
            except BaseException as exc:
                thrown = exc


class _Collector:
    """Keeps what a generator yielded (bounded) to report it as the span's output."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.items: list[Any] = []
        self.more = 0

    def add(self, item: Any) -> None:
        if not self.enabled:
            return
        if len(self.items) < snapshot.DEFAULT_LIMITS.max_items:
            self.items.append(item)
        else:
            self.more += 1

    def output(self) -> Any:
        if not self.enabled or not self.items:
            return None
        if all(isinstance(item, str) for item in self.items) and not self.more:
            return "".join(self.items)
        return [*self.items, snapshot.MORE_ITEMS.format(n=self.more)] if self.more else self.items


def _all_immutable(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    max_chars = snapshot.DEFAULT_LIMITS.max_chars
    immutable = snapshot.IMMUTABLE
    for value in args:
        kind = type(value)
        if kind not in immutable and (kind is not str or len(value) > max_chars):
            return False
    for value in kwargs.values():
        kind = type(value)
        if kind not in immutable and (kind is not str or len(value) > max_chars):
            return False
    return True


def _parameters(fn: Any) -> tuple[list[str], bool, str]:
    """Positional parameter names, whether the first is self/cls, and the *args name."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return [], False, "args"
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    rest = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), "args")
    skip = bool(positional) and positional[0] in ("self", "cls")
    return (positional[1:] if skip else positional), skip, rest
