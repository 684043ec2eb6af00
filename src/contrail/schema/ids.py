"""Identifier formats: OTLP hex ids for traces and spans, UUIDv7 strings for our own objects."""

from __future__ import annotations

import os
import time
import uuid

_HEX = frozenset("0123456789abcdef")


def is_valid_trace_id(value: str) -> bool:
    """32 lowercase hex characters, not all zero (the OTLP rule)."""
    return len(value) == 32 and _is_nonzero_hex(value)


def is_valid_span_id(value: str) -> bool:
    """16 lowercase hex characters, not all zero (the OTLP rule)."""
    return len(value) == 16 and _is_nonzero_hex(value)


def _is_nonzero_hex(value: str) -> bool:
    return _HEX.issuperset(value) and value.strip("0") != ""


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


def uuid7() -> str:
    """A time-ordered UUID (version 7) as a string."""
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & 0xFFFFFFFFFFFF) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & 0x3FFFFFFFFFFFFFFF
    return str(uuid.UUID(int=value))
