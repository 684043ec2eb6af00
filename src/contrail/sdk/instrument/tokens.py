"""Rough token estimates for when a provider does not report usage (flagged as estimated)."""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4


def estimate_tokens(value: Any) -> int:
    """About one token per four characters of the text found in ``value`` (strings, lists, dicts)."""
    return max(1, (_chars(value) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN) if value else 0


def _chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_chars(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_chars(item) for item in value)
    return 0
