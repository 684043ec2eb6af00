"""OTLP attribute values (``AnyValue``/``KeyValue``) as plain Python values, bounded on the way.

Strings pass through :meth:`Truncator.text` (size limit, NUL replacement); arrays and key-value
lists nest at most ``limits.max_json_depth`` levels; bytes values become lowercase hex strings (JSON
has no bytes). A later duplicate key wins, as in the OpenTelemetry SDKs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contrail.ingest.truncation import Truncator

_NUL = "\x00"


def attributes_to_dict(key_values: Iterable[Any], truncator: Truncator) -> dict[str, Any]:
    """Convert a repeated ``KeyValue`` field into ``{key: value}``; values empty in the oneof are None."""
    result: dict[str, Any] = {}
    text = truncator.text
    # Inlined fast path of Truncator.text: this loop runs for every attribute of every span.
    short = truncator.max_chars_fast
    for kv in key_values:
        key = kv.key
        if len(key) > short or _NUL in key:
            key = text(key)
        value = kv.value
        # Most attributes are non-empty strings: read the string first and skip WhichOneof for them.
        string = value.string_value
        if string:
            if len(string) > short or _NUL in string:
                string = text(string)
            result[key] = string
        else:
            result[key] = any_value(value, truncator, 1)
    return result


def any_value(value: Any, truncator: Truncator, level: int, kind: str | None = None) -> Any:
    """Convert one ``AnyValue`` at nesting ``level`` (1 for a top-level attribute value)."""
    if kind is None:
        kind = value.WhichOneof("value")
    if kind == "string_value":
        return truncator.text(value.string_value)
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        return value.double_value
    if kind == "bytes_value":
        return truncator.text(bytes(value.bytes_value).hex())
    if kind is None:
        return None
    if level > truncator.max_depth:
        return truncator.depth_marker()
    if kind == "array_value":
        return [any_value(item, truncator, level + 1) for item in value.array_value.values]
    return {
        truncator.text(kv.key): any_value(kv.value, truncator, level + 1) for kv in value.kvlist_value.values
    }
