"""OTLP attribute values (``AnyValue``/``KeyValue``) as plain Python values, bounded on the way.

Strings pass through :meth:`Truncator.text` (size limit, NUL replacement); arrays and key-value
lists nest at most ``limits.max_json_depth`` levels; bytes values become lowercase hex strings (JSON
has no bytes). A later duplicate key wins, as in the OpenTelemetry SDKs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from contrail.ingest.truncation import Truncator

_NUL = "\x00"


def attributes_to_dict(key_values: Sequence[Any], truncator: Truncator) -> dict[str, Any]:
    """Convert a repeated ``KeyValue`` field into ``{key: value}``; values empty in the oneof are None."""
    # This loop runs for every attribute of every span, so it does the least per attribute: most
    # values are non-empty strings (a set oneof field is the only one with a non-default value),
    # and the size/NUL checks of Truncator.text run once over all of them afterwards.
    result: dict[str, Any] = {}
    others: list[tuple[str, Any]] = []
    for kv in key_values:
        key = kv.key
        value = kv.value
        string = value.string_value
        result[key] = string
        if not string:
            others.append((key, value))
    if not _plain(result, len(key_values), truncator.max_chars_fast):
        return _attributes_checked(key_values, truncator)
    for key, value in others:
        # A non-zero number is the set field too; zeros, bools and the rest need WhichOneof.
        number = value.int_value or value.double_value
        result[key] = number if number else any_value(value, truncator, 1)
    return result


def _plain(strings: dict[str, str], count: int, max_chars: int) -> bool:
    """True when no key repeats and no key or string needs :meth:`Truncator.text` (NUL or size)."""
    if len(strings) != count:
        return False
    keys = "".join(strings)
    values = "".join(strings.values())
    return len(keys) + len(values) <= max_chars and _NUL not in keys and _NUL not in values


def _attributes_checked(key_values: Iterable[Any], truncator: Truncator) -> dict[str, Any]:
    # The general case: duplicate keys (a later one wins), NUL characters or very long strings.
    result: dict[str, Any] = {}
    text = truncator.text
    for kv in key_values:
        value = kv.value
        string = value.string_value
        result[text(kv.key)] = text(string) if string else any_value(value, truncator, 1)
    return result


def any_value(value: Any, truncator: Truncator, level: int, kind: str | None = None) -> Any:
    """Convert one ``AnyValue`` at nesting ``level`` (1 for a top-level attribute value)."""
    if kind is None:
        kind = value.WhichOneof("value")
    if kind == "string_value":
        return truncator.text(value.string_value)
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "bytes_value":
        return truncator.text(bytes(value.bytes_value).hex())
    if kind is None:
        return None
    if level > truncator.max_depth:
        return truncator.depth_marker()
    if kind == "array_value":
        return _array(value.array_value.values, truncator, level + 1)
    return {
        truncator.text(kv.key): any_value(kv.value, truncator, level + 1) for kv in value.kvlist_value.values
    }


def _array(values: Iterable[Any], truncator: Truncator, level: int) -> list[Any]:
    # Arrays are mostly of strings (finish reasons, tags): the same fast path as attributes_to_dict.
    short = truncator.max_chars_fast
    result = []
    for value in values:
        string = value.string_value
        if string and len(string) <= short and _NUL not in string:
            result.append(string)
        else:
            result.append(any_value(value, truncator, level))
    return result
