"""Column types shared by the tables: exact money and compressed JSON documents."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

import orjson

NANOS_PER_USD = Decimal(1_000_000_000)

# Documents under this many bytes are stored as plain JSON. Measured here, setting up deflate costs
# ~14 µs per document whatever its size, a third of a span's whole write budget; below 1 KB the
# saving is a few hundred bytes, above it (RAG contexts, long answers) compression pays for itself.
_COMPRESS_FROM_BYTES = 1024
_PLAIN = b"j"
_DEFLATE = b"d"
# Raw deflate with a 4 KB window: as small as the default on LLM text, several times faster to set up.
_WBITS = -12


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
    compressor = zlib.compressobj(1, zlib.DEFLATED, _WBITS)  # zlib.compress takes wbits only from 3.11
    return _DEFLATE + compressor.compress(raw) + compressor.flush()


def unpack_json(blob: bytes | None) -> Any:
    if blob is None:
        return None
    blob = bytes(blob)
    body = blob[1:]
    if blob[:1] == _DEFLATE:
        body = zlib.decompress(body, _WBITS)
    return orjson.loads(body)


def dump_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
