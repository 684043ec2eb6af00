"""Dataset items as data: validation, and the JSONL and CSV file formats (import with per-line errors,
export).

Pure Python with no database or server dependency, so the CLI can check a file before sending it.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

_loads: Callable[[str], Any]
try:  # the server extra; ~3x faster on big imports
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - SDK-only installs (the CLI checking a file)
    _loads = json.loads

# One request (an import or a POST of items) holds at most this many items: the whole file is
# checked and written in one transaction, so the bound keeps memory and the write lock in check.
MAX_ITEMS_PER_REQUEST = 100_000
# Errors listed in one answer; the message still gives the total.
MAX_LISTED_ERRORS = 100

ITEM_FIELDS = ("id", "input", "expected_output", "metadata", "source_trace_id", "source_span_id")
_ITEM_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")
_HEX = re.compile(r"^[0-9a-f]+$")

# csv's default cap is 128 KiB per cell; an item's input (a long document) can be larger. The request
# body limit bounds it instead.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclasses.dataclass(slots=True)
class ItemIn:
    """One item to add or update; ``id`` None means "give it a new id"."""

    input: Any
    expected_output: Any = None
    metadata: dict[str, Any] | None = None
    id: str | None = None
    source_trace_id: str | None = None
    source_span_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LineError:
    """A problem with one line (file imports) or one list entry (``line`` is then the 1-based index)."""

    line: int
    message: str


class ItemsError(ValueError):
    """Some items are invalid; ``errors`` lists each (at most MAX_LISTED_ERRORS), ``total`` counts all."""

    def __init__(self, errors: list[LineError], total: int, what: str = "line") -> None:
        listed = ", ".join(f"{what} {e.line}: {e.message}" for e in errors[:3])
        more = f" (and {total - 3} more)" if total > 3 else ""
        super().__init__(f"{total} invalid {what}(s), nothing was imported. {listed}{more}")
        self.errors = errors
        self.total = total
        self.what = what

    def details(self) -> list[dict[str, Any]]:
        """Each error as ``{"line": n, "message"}`` (files) or ``{"index": n, "message"}`` (lists)."""
        key = "line" if self.what == "line" else "index"
        return [{key: e.line, "message": e.message} for e in self.errors]


class TooManyItemsError(ValueError):
    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count} items in one request; the limit is {MAX_ITEMS_PER_REQUEST}. Split the file "
            "(the CLI's `contrail datasets import` does)."
        )


def item_from_dict(raw: Any) -> ItemIn:
    """Validate one item object; raises ValueError with a message fit for the user."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"an item must be a JSON object, not {type(raw).__name__}")
    unknown = sorted(set(raw) - set(ITEM_FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}; use {', '.join(ITEM_FIELDS)}")
    if "input" not in raw:
        raise ValueError("'input' is required")
    metadata = raw.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise ValueError("'metadata' must be a JSON object")
    return ItemIn(
        input=raw["input"],
        expected_output=raw.get("expected_output"),
        metadata=dict(metadata) if metadata else None,
        id=_checked_id(raw.get("id")),
        source_trace_id=_checked_hex(raw.get("source_trace_id"), "source_trace_id", 32),
        source_span_id=_checked_hex(raw.get("source_span_id"), "source_span_id", 16),
    )


def items_from_list(raw: Any, what: str = "item") -> list[ItemIn]:
    """Validate a list of item objects (a POST body); ItemsError names each bad entry (1-based)."""
    if not isinstance(raw, list):
        raise ItemsError([LineError(0, "'items' must be a list of objects")], 1, what)
    items, errors = _collect(((i, entry) for i, entry in enumerate(raw, 1)), what)
    if errors:
        raise ItemsError(errors[:MAX_LISTED_ERRORS], len(errors), what)
    return items


def _checked_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ITEM_ID.match(value):
        raise ValueError(f"'id' {value!r} must be 1-200 letters, digits, _ . : or -")
    return value


def _checked_hex(value: Any, field: str, length: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) != length or not _HEX.match(value.lower()):
        raise ValueError(f"{field!r} must be {length} hex characters")
    return value.lower()


def _collect(entries: Iterable[tuple[int, Any]], what: str = "line") -> tuple[list[ItemIn], list[LineError]]:
    """Validate ``(line, raw)`` pairs: the items, and every error (duplicate ids included)."""
    items: list[ItemIn] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for line, raw in entries:
        if isinstance(raw, LineError):
            errors.append(raw)
            continue
        try:
            item = item_from_dict(raw)
        except ValueError as exc:
            errors.append(LineError(line, str(exc)))
            continue
        if item.id is not None:
            if item.id in seen:
                errors.append(LineError(line, f"id {item.id!r} is already used by {what} {seen[item.id]}"))
                continue
            seen[item.id] = line
        items.append(item)
    return items, errors


# --- import --------------------------------------------------------------------------------------


def parse_file(data: bytes, fmt: str) -> list[ItemIn]:
    """Parse a whole JSONL or CSV file; raises ItemsError listing every bad line (with its number),
    TooManyItemsError over MAX_ITEMS_PER_REQUEST, ValueError for an unknown format."""
    items = parse_items(data, fmt)
    if len(items) > MAX_ITEMS_PER_REQUEST:
        raise TooManyItemsError(len(items))
    return items


def parse_items(data: bytes, fmt: str) -> list[ItemIn]:
    """``parse_file`` without the per-request bound (the CLI splits big files into requests)."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"format must be jsonl or csv, not {fmt!r}")
    text = _decode(data)
    entries = _jsonl_entries(text) if fmt == "jsonl" else _csv_entries(text)
    items, errors = _collect(entries)
    if errors:
        raise ItemsError(errors[:MAX_LISTED_ERRORS], len(errors))
    if not items:
        raise ItemsError([LineError(1, "the file holds no items")], 1)
    return items


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ItemsError([LineError(line, "the file is not UTF-8 text")], 1) from exc


def _jsonl_entries(text: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            yield number, _loads(line)
        except ValueError as exc:
            yield number, LineError(number, f"not valid JSON ({exc})")


def _csv_entries(text: str) -> Iterator[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        yield 1, LineError(1, f"bad CSV ({exc})")
        return
    if header is None:
        return
    columns = [c.strip() for c in header]
    unknown = sorted(set(columns) - set(ITEM_FIELDS))
    if unknown or "input" not in columns or len(set(columns)) != len(columns):
        message = "the header must name an 'input' column, each column once, among " + ", ".join(ITEM_FIELDS)
        yield 1, LineError(1, message + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
        return
    yield from _csv_rows(reader, columns)


def _csv_rows(reader: Any, columns: list[str]) -> Iterator[tuple[int, Any]]:
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, LineError(start, f"bad CSV ({exc})")
            return  # the reader cannot resynchronise after a quoting error
        if not row or row == [""]:
            continue
        if len(row) != len(columns):
            yield start, LineError(start, f"{len(row)} fields where the header has {len(columns)}")
            continue
        try:
            yield start, _csv_record(dict(zip(columns, row, strict=True)))
        except ValueError as exc:
            yield start, LineError(start, str(exc))


def _csv_record(cells: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {"input": _cell_value(cells["input"])}
    if cells.get("expected_output"):
        record["expected_output"] = _cell_value(cells["expected_output"])
    if cells.get("metadata", "").strip():
        try:
            record["metadata"] = _loads(cells["metadata"])
        except ValueError as exc:
            raise ValueError(f"'metadata' is not JSON ({exc})") from exc
    for key in ("id", "source_trace_id", "source_span_id"):
        if cells.get(key):
            record[key] = cells[key]
    return record


def _cell_value(text: str) -> Any:
    """JSON objects and arrays stay JSON; everything else is the cell's text."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            value = _loads(stripped)
        except ValueError:
            return text
        if isinstance(value, (dict, list)):
            return value
    return text


# --- export --------------------------------------------------------------------------------------


def export_record(item: Mapping[str, Any]) -> dict[str, Any]:
    """The importable fields of an item (an API item dict), in file order."""
    return {field: item.get(field) for field in ITEM_FIELDS}


def jsonl_lines(items: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    for item in items:
        yield json.dumps(export_record(item), ensure_ascii=False, separators=(",", ":")) + "\n"


def csv_lines(items: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """CSV with a header. Strings are written as they are (no formula quoting, so files round-trip);
    other values as JSON text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ITEM_FIELDS)
    yield _drain(buffer)
    for item in items:
        record = export_record(item)
        record["metadata"] = record["metadata"] or None
        writer.writerow([_csv_cell(record[field]) for field in ITEM_FIELDS])
        yield _drain(buffer)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
