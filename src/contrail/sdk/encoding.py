"""Turn queued spans and scores into the ingest wire format (``{"batch": [...]}``), privacy applied.

Runs on the export thread: the user's mask hook, PII redaction, JSON encoding, secret redaction and
gzip all happen here, off the host's hot path, but before any byte leaves the process.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from contrail.sdk import redaction
from contrail.sdk.config import Config
from contrail.sdk.snapshot import snapshot

_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # optional speed-up; the stdlib encoder is the fallback
    _orjson = None

_GZIP_MIN_BYTES = 1_024
_MASKED_FIELDS = ("input", "output", "metadata")


class Exportable(Protocol):
    kind: str

    def to_wire(self) -> dict[str, Any]: ...


class Encoder:
    """Builds ingest events and request bodies according to one :class:`Config`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._private = config.mask is not None or config.redact_pii
        self._defaults = {"environment": config.environment, "release": config.release}
        self._defaults = {key: value for key, value in self._defaults.items() if value}
        self._gzip = config.gzip and not _is_loopback(config.host)

    def event(self, item: Exportable) -> dict[str, Any]:
        """One ``{"id", "type", "body"}`` event with mask hook, PII redaction and config defaults."""
        body = item.to_wire()
        if self._private:
            self._privacy(body)
            if body.get("trace"):
                self._privacy(body["trace"])
        for key, value in self._defaults.items():
            body.setdefault(key, value)
        if item.kind == "score":
            body.pop("release", None)  # scores carry no release on the wire
        # observations are idempotent by (trace_id, span_id) and scores by id: reuse them as event ids
        event_id = body.get("span_id") or body.get("id") or os.urandom(8).hex()
        return {"id": event_id, "type": item.kind, "body": body}

    def _privacy(self, body: dict[str, Any]) -> None:
        mask, pii = self.config.mask, self.config.redact_pii
        for field in _MASKED_FIELDS:
            if body.get(field) is None:
                continue
            value = body[field]
            if mask is not None:
                value = snapshot(mask(value))
            if pii:
                value = redaction.redact_pii(value)
            body[field] = value

    def body(self, events: Sequence[dict[str, Any]]) -> bytes:
        """The JSON request body for ``events`` with secrets redacted (not compressed)."""
        data = dumps({"batch": list(events)})
        return redaction.redact_secrets(data) if self.config.redact_secrets else data

    def compress(self, data: bytes) -> tuple[bytes, bool]:
        """gzip ``data`` when worthwhile (not to a loopback host); returns (payload, compressed)."""
        if not self._gzip or len(data) < _GZIP_MIN_BYTES:
            return data, False
        return gzip.compress(data, compresslevel=1), True


def _is_loopback(host: str) -> bool:
    """Compressing for a server on this machine costs CPU and saves nothing."""
    hostname = urlsplit(host).hostname or ""
    return hostname in ("localhost", "::1") or hostname.startswith("127.")


def dumps(value: Any) -> bytes:
    """JSON-encode ``value``; strings with lone surrogates are repaired rather than failing."""
    if _orjson is not None:
        try:
            data: bytes = _orjson.dumps(value)
        except TypeError:  # lone surrogates (e.g. from surrogateescape) or exotic keys
            data = _orjson.dumps(_repair(value))
        return data
    return json.dumps(_repair(value), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _repair(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {str(_repair(key)): _repair(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_repair(item) for item in value]
    return value
