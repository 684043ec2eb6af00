"""POST one request body to the ingest endpoint, with bounded retries.

Retries connection errors, timeouts, 408/429/5xx with exponential backoff and full jitter, honouring
``Retry-After``; gives up after ``max_retries`` or when the exporter is stopping. A rejected key
(401/403) or a bad URL logs one clear warning and drops the batch: retrying cannot fix it.
"""

from __future__ import annotations

import enum
import json
import logging
import random
import threading
import time
from typing import TYPE_CHECKING

from contrail._version import __version__
from contrail.sdk import guard
from contrail.sdk.config import Config

if TYPE_CHECKING:
    import httpx

_log = logging.getLogger("contrail")

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_MAX_DELAY_S = 30.0


class Outcome(enum.Enum):
    SENT = "sent"
    TOO_LARGE = "too_large"
    DROPPED = "dropped"


class Transport:
    """Sends bodies to ``config.ingest_url``; one instance per export thread (not thread-safe)."""

    def __init__(self, config: Config, stopping: threading.Event) -> None:
        self.config = config
        self.stopping = stopping
        self.rejected_events = 0
        self._client: httpx.Client | None = None
        self._headers = _headers(config)

    def send(self, payload: bytes, compressed: bool, deadline: float | None = None) -> Outcome:
        """Deliver ``payload``; ``deadline`` (time.monotonic) bounds retries during flush/shutdown."""
        headers = dict(self._headers)
        if compressed:
            headers["Content-Encoding"] = "gzip"
        for attempt in range(self.config.max_retries + 1):
            delay = self._attempt(payload, headers)
            if delay is None:
                return Outcome.SENT
            if delay < 0:
                return Outcome.TOO_LARGE if delay == _TOO_LARGE else Outcome.DROPPED
            if attempt == self.config.max_retries or not self._wait(delay, attempt, deadline):
                break
        return Outcome.DROPPED

    def _attempt(self, payload: bytes, headers: dict[str, str]) -> float | None:
        """None when done, a delay in seconds to retry, or a negative code to stop."""
        try:
            response = self._http().post(self.config.ingest_url, content=payload, headers=headers)
        except Exception as exc:  # network failures of any kind are retried, never raised
            if _is_bad_url(exc):
                guard.warn(
                    "export", f"Cannot export to {self.config.ingest_url}: {exc}. Check CONTRAIL_HOST."
                )
                return _GIVE_UP
            guard.warn("export", f"Cannot reach {self.config.ingest_url} ({type(exc).__name__}); will retry.")
            return 0.0
        return self._verdict(response)

    def _verdict(self, response: httpx.Response) -> float | None:
        status = response.status_code
        if status < 300:
            self._count_rejections(response)
            return None
        if status == 413:
            return _TOO_LARGE
        if status in (401, 403):
            guard.warn(
                "export",
                f"Contrail rejected the API keys ({status}) at {self.config.host}: spans are dropped. "
                "Check CONTRAIL_PUBLIC_KEY / CONTRAIL_SECRET_KEY.",
            )
            return _GIVE_UP
        if status in _RETRY_STATUS:
            return _retry_after(response.headers.get("Retry-After"))
        guard.warn("export", f"Contrail answered {status} to an ingest request; batch dropped.")
        return _GIVE_UP

    def _count_rejections(self, response: httpx.Response) -> None:
        if response.status_code != 207:
            return
        try:
            errors = json.loads(response.content).get("errors") or []
        except (ValueError, AttributeError):
            return
        if errors:
            self.rejected_events += len(errors)
            first = errors[0]
            guard.warn("export", f"Contrail rejected {len(errors)} event(s), e.g. {first.get('message')!r}")

    def _wait(self, hint: float, attempt: int, deadline: float | None) -> bool:
        backoff = random.uniform(0, min(_MAX_DELAY_S, self.config.retry_base_delay * 2**attempt))
        delay = max(hint, backoff)
        if deadline is not None and time.monotonic() + delay > deadline:
            return False
        return not self.stopping.wait(delay)

    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.config.timeout, follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close()


_GIVE_UP = -1.0
_TOO_LARGE = -2.0


def _headers(config: Config) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": f"contrail-python/{__version__}"}
    auth = config.auth_header()
    if auth:
        headers["Authorization"] = auth
    return headers


def _retry_after(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        return min(max(float(value), 0.0), _MAX_DELAY_S)
    except ValueError:
        return 1.0


def _is_bad_url(exc: Exception) -> bool:
    import httpx

    return isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL))
