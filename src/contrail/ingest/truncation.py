"""Bounding untrusted values: size and nesting limits, with explicit markers, never silently.

Every ingestion path (OTLP and native) passes values through one :class:`Truncator`, so the markers
are the same whatever the client sent:

* A **string** whose UTF-8 encoding exceeds ``limits.max_value_bytes`` keeps its first
  ``max_value_bytes`` bytes (cut on a character boundary) followed by
  ``"…[truncated by contrail: <original UTF-8 bytes> bytes]"``.
* A **structured value** (dict/list) whose compact JSON encoding exceeds ``max_value_bytes`` becomes
  ``{"_contrail_truncated": true, "original_bytes": <n>, "preview": "<JSON text, truncated as above>"}``.
* A **subtree nested deeper** than ``limits.max_json_depth`` becomes
  ``{"_contrail_truncated": true, "reason": "max_json_depth", "max_depth": <limit>}``.
* **NUL characters** in strings become U+FFFD: PostgreSQL text and JSONB cannot store them, and the
  SQLite and PostgreSQL stores must hold the same data.

Each marker increments :attr:`Truncator.count`, which the mappers report as ``truncated_values``.
"""

from __future__ import annotations

from typing import Any

import orjson

from contrail.ingest.limits import IngestLimits

TRUNCATED_KEY = "_contrail_truncated"
_SUFFIX = "…[truncated by contrail: {} bytes]"
_NUL = "\x00"
_REPLACEMENT = "\ufffd"
_ESCAPED_NUL = "\\u0000"


def truncation_suffix(original_bytes: int) -> str:
    """The marker appended to a truncated string whose UTF-8 encoding had ``original_bytes`` bytes."""
    return _SUFFIX.format(original_bytes)


class Truncator:
    """Applies one request's :class:`IngestLimits` to values and counts the markers it inserts."""

    __slots__ = ("_max_bytes", "_short_json", "count", "max_chars_fast", "max_depth")

    def __init__(self, limits: IngestLimits) -> None:
        self._max_bytes = limits.max_value_bytes
        # A string of n characters encodes to at most 4n UTF-8 bytes: shorter ones need no encoding.
        self.max_chars_fast = limits.max_value_bytes // 4
        self.max_depth = limits.max_json_depth
        # Nesting deeper than the limit takes more than 2 * max_depth characters of brackets.
        self._short_json = 2 * limits.max_json_depth
        self.count = 0

    def text(self, value: str) -> str:
        """``value`` with NULs replaced and, if over the byte limit, cut with the string marker."""
        if _NUL in value:
            value = value.replace(_NUL, _REPLACEMENT)
        if len(value) <= self.max_chars_fast:
            return value
        encoded = value.encode("utf-8", "surrogatepass")
        if len(encoded) <= self._max_bytes:
            return value
        self.count += 1
        head = encoded[: self._max_bytes].decode("utf-8", "ignore")
        return head + truncation_suffix(len(encoded))

    def json_text(self, value: str) -> Any:
        """Parse ``value`` as JSON when it looks like an object or array, else return it as text.

        ``value`` must already be bounded by :meth:`text` (attribute values are), so a truncated
        document stays a string; a parsed document is bounded in depth. Text that is not valid JSON
        is returned unchanged.
        """
        first = value[:1]
        if first != "{" and first != "[":
            stripped = value.lstrip()
            if not stripped or stripped[0] not in "{[":
                return value
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        # A container (the text starts with a bracket): the fast path of depth(), inlined.
        if len(value) > self._short_json and value.count("{") + value.count("[") > self.max_depth:
            return self._prune(parsed, 1)
        return _clean_nul(parsed) if _ESCAPED_NUL in value else parsed

    def loads(self, value: str) -> Any:
        """Parse any JSON text (scalars too); text that is not JSON is returned as text.

        Like :meth:`json_text`, ``value`` must already be bounded by :meth:`text`.
        """
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return self.depth(parsed, value)

    def depth(self, parsed: Any, source: str | None = None) -> Any:
        """Bound the nesting of a parsed JSON value.

        ``source``, its JSON text if known, allows a fast path: a document with no more opening
        brackets than the depth limit cannot exceed it.
        """
        if not isinstance(parsed, (dict, list)):
            return _clean_scalar(parsed)
        # Nesting deeper than the limit takes more than max_depth opening and closing brackets.
        if source is not None and (
            len(source) <= self._short_json or source.count("{") + source.count("[") <= self.max_depth
        ):
            return _clean_nul(parsed) if _ESCAPED_NUL in source else parsed
        return self._prune(parsed, 1)

    def value(self, value: Any) -> Any:
        """Bound an arbitrary JSON-compatible value (native ingest): strings, depth, then total size."""
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return self.text(value)
        pruned = self._prune(value, 1)
        try:
            encoded = orjson.dumps(pruned, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            # orjson refuses only non-JSON types (or 64-bit overflow); keep the value's text form.
            return self.text(str(pruned))
        if len(encoded) <= self._max_bytes:
            return pruned
        return self.oversized(encoded)

    def oversized(self, encoded: bytes) -> dict[str, Any]:
        """The marker for a structured value whose JSON encoding ``encoded`` exceeds the limit."""
        self.count += 1
        preview = encoded[: self._max_bytes].decode("utf-8", "ignore")
        return {
            TRUNCATED_KEY: True,
            "original_bytes": len(encoded),
            "preview": preview + truncation_suffix(len(encoded)),
        }

    def depth_marker(self) -> dict[str, Any]:
        self.count += 1
        return {TRUNCATED_KEY: True, "reason": "max_json_depth", "max_depth": self.max_depth}

    def _prune(self, value: Any, level: int) -> Any:
        if isinstance(value, dict):
            if level > self.max_depth:
                return self.depth_marker()
            return {self.text(str(key)): self._prune(item, level + 1) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            if level > self.max_depth:
                return self.depth_marker()
            return [self._prune(item, level + 1) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return _clean_scalar(value)


def _clean_scalar(value: Any) -> Any:
    if isinstance(value, str) and _NUL in value:
        return value.replace(_NUL, _REPLACEMENT)
    return value


def _clean_nul(value: Any) -> Any:
    if isinstance(value, dict):
        return {_clean_scalar(str(k)): _clean_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_nul(v) for v in value]
    return _clean_scalar(value)
