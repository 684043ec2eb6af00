"""Reading request bodies within limits: size as sent, gzip decompression, decompressed size."""

from __future__ import annotations

import zlib

from starlette.requests import Request

from contrail.server.errors import ApiError


async def read_body(request: Request, *, max_bytes: int, max_decompressed_bytes: int) -> bytes:
    """The request body, decompressed if gzip-encoded.

    Raises ApiError 413 when the body or its decompressed form is over a limit, 400 for a
    corrupt or truncated gzip stream, 415 for an unsupported Content-Encoding.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(f"The request body is {declared} bytes; the limit is {max_bytes}.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(f"The request body is over the limit of {max_bytes} bytes.")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _decompress(body, max_decompressed_bytes, gzip=encoding != "deflate")
    raise ApiError(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported; use gzip.")


def _decompress(body: bytes, limit: int, *, gzip: bool) -> bytes:
    decompressor = zlib.decompressobj(wbits=(16 + zlib.MAX_WBITS) if gzip else zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ApiError(400, "bad_compression", f"The compressed body cannot be decoded ({exc}).") from exc
    if len(data) > limit:
        raise _too_large(f"The decompressed body is over the limit of {limit} bytes.")
    if not decompressor.eof:
        raise ApiError(400, "bad_compression", "The compressed body is truncated.")
    return data


def _too_large(message: str) -> ApiError:
    return ApiError(413, "payload_too_large", message)
