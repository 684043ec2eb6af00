"""Column types shared by the tables: exact money and compressed JSON documents."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

import orjson

NANOS_PER_USD = Decimal(1_000_000_000)

# Documents under this many bytes are stored as plain JSON: zlib's header would outweigh the saving.
_COMPRESS_FROM_BYTES = 200
_PLAIN = b"j"
_ZLIB = b"z"


def usd_to_nanos(value: Decimal | None) -> int | None:
    """Money is stored as integer nano-dollars so sums are exact in SQL on every dialect."""
    if value is None:
        return None
    return int((value * NANOS_PER_USD).to_integral_value())


def nanos_to_usd(value: int | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(value) / NANOS_PER_USD


def pack_json(value: Any) -> bytes | None:
    """Encode a JSON value for storage, compressing larger documents with zlib level 1."""
    if value is None:
        return None
    raw = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    if len(raw) < _COMPRESS_FROM_BYTES:
        return _PLAIN + raw
    return _ZLIB + zlib.compress(raw, 1)


def unpack_json(blob: bytes | None) -> Any:
    if blob is None:
        return None
    blob = bytes(blob)
    body = blob[1:]
    if blob[:1] == _ZLIB:
        body = zlib.decompress(body)
    return orjson.loads(body)


def dump_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
