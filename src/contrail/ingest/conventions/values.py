"""Typed reads of attribute values that consume the attribute only when it has the expected type.

A value of the wrong type (say ``"lots"`` for a token count) stays in the attribute dict, so it is
kept in ``metadata["attributes"]`` rather than lost.
"""

from __future__ import annotations

from typing import Any


def pop_str(attrs: dict[str, Any], key: str) -> str | None:
    """Consume a non-empty string (numbers are converted to text); else None."""
    value = attrs.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        del attrs[key]
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        del attrs[key]
        return str(value)
    return None


def pop_int(attrs: dict[str, Any], key: str) -> int | None:
    """Consume a non-negative integer given as int, integral float or decimal string; else None."""
    value = attrs.get(key)
    if value is None:
        return None
    number = as_int(value)
    if number is not None:
        del attrs[key]
    return number


def as_int(value: Any) -> int | None:
    """``value`` as a non-negative integer, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def pop_float(attrs: dict[str, Any], key: str) -> float | None:
    value = attrs.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        del attrs[key]
        return float(value)
    return None


def pop_str_list(attrs: dict[str, Any], key: str) -> list[str] | None:
    """Consume a list of strings, or a JSON-array string of strings, or a single string."""
    value = attrs.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        del attrs[key]
        return [value] if value else []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        del attrs[key]
        return list(value)
    return None


def pop_any(attrs: dict[str, Any], key: str) -> Any:
    """Consume whatever is stored under ``key`` (None when absent)."""
    return attrs.pop(key, None)
