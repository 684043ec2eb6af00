"""Query parameters shared by list endpoints, parsed into a store Filter (422 on bad values)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import Query

from contrail.schema.timeconv import rfc3339_to_us
from contrail.server.errors import ApiError
from contrail.store.filters import METADATA_KEY, Filter
from contrail.store.pagination import CursorError

MAX_PAGE = 500


def filter_params(
    from_time: Annotated[str | None, Query(description="Start at or after (RFC 3339)")] = None,
    to_time: Annotated[str | None, Query(description="Start before (RFC 3339)")] = None,
    name: str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    tag: Annotated[list[str] | None, Query(description="Repeat to require several tags")] = None,
    environment: str | None = None,
    release: str | None = None,
    model: str | None = None,
    error: Annotated[
        bool | None, Query(description="Only traces with (true) or without (false) errors")
    ] = None,
    min_latency_ms: Annotated[float | None, Query(ge=0)] = None,
    max_latency_ms: Annotated[float | None, Query(ge=0)] = None,
    min_cost: Annotated[str | None, Query(description="USD, decimal")] = None,
    max_cost: Annotated[str | None, Query(description="USD, decimal")] = None,
    metadata: Annotated[list[str] | None, Query(description="key=value; repeat for several")] = None,
    q: Annotated[
        str | None,
        Query(description="Full-text search of name, input and output (words; newest 10,000 matching spans)"),
    ] = None,
) -> Filter:
    return Filter(
        start_from_us=_time("from_time", from_time),
        start_to_us=_time("to_time", to_time),
        name=name,
        user_id=user_id,
        session_id=session_id,
        tags=tag or [],
        environment=environment,
        release=release,
        model=model,
        has_error=error,
        min_latency_us=None if min_latency_ms is None else int(min_latency_ms * 1000),
        max_latency_us=None if max_latency_ms is None else int(max_latency_ms * 1000),
        min_cost_usd=_money("min_cost", min_cost),
        max_cost_usd=_money("max_cost", max_cost),
        metadata=[_pair(m) for m in metadata or []],
        search=q,
    )


def _time(field: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return rfc3339_to_us(value)
    except (ValueError, OverflowError) as exc:
        raise _invalid(field, f"{value!r} is not an RFC 3339 time, e.g. 2026-01-31T12:00:00Z") from exc


def _money(field: str, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise _invalid(field, f"{value!r} is not a decimal amount of USD") from exc
    if not amount.is_finite() or amount < 0:
        raise _invalid(field, "must be a finite, non-negative amount")
    return amount


def _pair(value: str) -> tuple[str, str]:
    key, sep, wanted = value.partition("=")
    if not sep or not METADATA_KEY.match(key):
        raise _invalid(
            "metadata", f"{value!r} must be key=value with a key of letters, digits, _ . : - or space"
        )
    return key, wanted


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        422, "invalid_parameters", f"{field}: {message}", [{"loc": ["query", field], "message": message}]
    )


@contextlib.contextmanager
def cursor_errors() -> Iterator[None]:
    """Turn a cursor this server did not issue into a 422 with the envelope."""
    try:
        yield
    except CursorError as exc:
        raise ApiError(422, "invalid_cursor", str(exc)) from exc
