"""API-key authentication: Basic ``pk:sk`` (as the Langfuse SDK sends) or Bearer ``sk``.

Verified keys are cached for ``key_cache_seconds`` so ingest does not query the key table per
request; revoking a key through this server drops it from the cache at once.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import time

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from contrail.server.errors import ApiError
from contrail.store.projects import ApiKey, hash_secret, verify_key

_CACHE_LIMIT = 10_000


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: every query a request makes is scoped to ``project_id``."""

    project_id: str
    key_id: str
    public_key: str


class KeyVerifier:
    def __init__(self, engine: Engine, cache_seconds: float) -> None:
        self._engine = engine
        self._cache_seconds = cache_seconds
        self._cache: dict[tuple[str | None, str], tuple[float, ApiKey]] = {}

    async def authenticate(self, request: Request) -> Principal:
        """The principal for the request's credentials; raises ApiError 401 otherwise."""
        public_key, secret_key = _credentials(request.headers.get("authorization"))
        cache_key = (public_key, hash_secret(secret_key))
        cached = self._cache.get(cache_key)
        if cached is not None and cached[0] > time.monotonic():
            key = cached[1]
        else:
            found = await run_in_threadpool(
                verify_key, self._engine, secret_key=secret_key, public_key=public_key
            )
            if found is None:
                raise ApiError(401, "invalid_api_key", "The API key is unknown or has been revoked.")
            key = found
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[cache_key] = (time.monotonic() + self._cache_seconds, key)
        return Principal(project_id=key.project_id, key_id=key.id, public_key=key.public_key)

    def forget(self, public_key: str) -> None:
        """Drop a key from the cache (after it is revoked)."""
        for cache_key, (_, key) in list(self._cache.items()):
            if key.public_key == public_key:
                del self._cache[cache_key]


def _credentials(header: str | None) -> tuple[str | None, str]:
    if not header:
        raise ApiError(
            401,
            "missing_api_key",
            "Send an API key: 'Authorization: Bearer sk-...' or Basic auth with public:secret key.",
        )
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return None, value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ApiError(401, "invalid_api_key", "The Basic credentials are not valid base64.") from exc
        public_key, sep, secret_key = decoded.partition(":")
        if sep and public_key and secret_key:
            return public_key, secret_key
    raise ApiError(401, "invalid_api_key", "Use 'Bearer <secret key>' or Basic '<public key>:<secret key>'.")
