"""Which span is current: a contextvar, plus helpers to carry it into threads.

asyncio tasks copy the context when they are created, so spans started inside a task nest under the
span that created the task. Threads start with an empty context: wrap the callable with :func:`wrap`,
or use :class:`ContextThreadPoolExecutor` (``asyncio.to_thread`` already copies the context;
``loop.run_in_executor`` does not).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from contrail.sdk.span import Span

P = ParamSpec("P")
R = TypeVar("R")

current: contextvars.ContextVar[Span | None] = contextvars.ContextVar("contrail_span", default=None)


def current_span() -> Span | None:
    """The span of the innermost ``@observe`` / ``span()`` block running in this context, if any."""
    return current.get()


def current_trace_id() -> str | None:
    span = current.get()
    return None if span is None else span.trace_id


def wrap(fn: Callable[P, R]) -> Callable[P, R]:
    """Bind ``fn`` to the context of the caller, so spans it starts in another thread nest correctly.

    Each call runs in a fresh copy of the captured context, so the wrapped callable may run in
    several threads at once.
    """
    captured = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_captured(*args: P.args, **kwargs: P.kwargs) -> R:
        return captured.copy().run(fn, *args, **kwargs)

    return run_in_captured


class ContextThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run in the context of the code that submitted them."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[R]:
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)
