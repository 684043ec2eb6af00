"""Keyset pagination: an opaque cursor holding the last row's sort value and id."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import ColumnElement, and_, or_

T = TypeVar("T")


class CursorError(ValueError):
    """The cursor was not produced by this server (or was altered)."""


@dataclasses.dataclass(slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(sort_value: Any, row_id: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([sort_value, row_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, Any]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, orjson.JSONDecodeError, ValueError) as exc:
        raise CursorError("The cursor is not valid; start again without one.") from exc
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], (str, int))):
        raise CursorError("The cursor is not valid; start again without one.")
    if value[0] is not None and not isinstance(value[0], (int, str)):
        raise CursorError("The cursor is not valid; start again without one.")
    return value[0], value[1]


def after_cursor(
    sort_column: ColumnElement[Any], id_column: ColumnElement[Any], cursor: str, descending: bool
) -> ColumnElement[bool]:
    """Rows strictly after the cursor in (sort_column, id_column) order."""
    sort_value, row_id = decode_cursor(cursor)
    if descending:
        return or_(sort_column < sort_value, and_(sort_column == sort_value, id_column < row_id))
    return or_(sort_column > sort_value, and_(sort_column == sort_value, id_column > row_id))


def split_page(rows: list[Any], limit: int, sort_key: str, id_key: str) -> tuple[list[Any], str | None]:
    """Rows fetched with ``LIMIT limit + 1``: the page, and the cursor after it when there is more."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1][sort_key], rows[-1][id_key])
