"""The one error handler every SDK internal runs under.

An SDK bug must never reach the host application: ``report`` logs it (once per place and error type,
then at most once a minute with a count of what was suppressed) and returns. With ``CONTRAIL_STRICT=1``
(our own tests) it re-raises instead, so bugs are seen.
"""

from __future__ import annotations

import logging
import os
import threading
import time

_log = logging.getLogger("contrail")

_INTERVAL_S = 60.0
_lock = threading.Lock()
_last: dict[tuple[str, str], tuple[float, int]] = {}
_strict = os.environ.get("CONTRAIL_STRICT", "").strip().lower() in {"1", "true", "yes", "on"}


def set_strict(value: bool) -> None:
    """Switch strict mode (re-raise internal errors); ``configure(strict=...)`` calls this."""
    global _strict
    _strict = value


def is_strict() -> bool:
    return _strict


def report(where: str, exc: BaseException) -> None:
    """Record an internal error raised in ``where``; re-raise it only in strict mode."""
    if _strict:
        raise exc
    warn(where, f"{type(exc).__name__}: {exc}", exc_info=exc)


def warn(where: str, message: str, exc_info: BaseException | None = None) -> None:
    """Log ``message`` at WARNING, rate limited per (where, first word of message)."""
    key = (where, message.split(":", 1)[0])
    now = time.monotonic()
    with _lock:
        last, suppressed = _last.get(key, (0.0, -1))
        if suppressed >= 0 and now - last < _INTERVAL_S:
            _last[key] = (last, suppressed + 1)
            return
        _last[key] = (now, 0)
    more = f" ({suppressed} similar messages suppressed)" if suppressed > 0 else ""
    _log.warning("Contrail SDK (%s): %s%s", where, message, more, exc_info=exc_info)


def reset() -> None:
    """Forget what was logged (tests)."""
    with _lock:
        _last.clear()
