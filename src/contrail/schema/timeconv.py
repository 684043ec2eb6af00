"""Conversions between integer microseconds since the epoch and RFC 3339 strings."""

from __future__ import annotations

import datetime as dt

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def us_to_rfc3339(us: int | None) -> str | None:
    if us is None:
        return None
    stamp = _EPOCH + dt.timedelta(microseconds=us)
    return stamp.isoformat().replace("+00:00", "Z")


def rfc3339_to_us(text: str) -> int:
    """Parse an RFC 3339 / ISO 8601 timestamp; naive values are taken as UTC. Raises ValueError."""
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return (stamp - _EPOCH) // dt.timedelta(microseconds=1)


def now_us() -> int:
    return int(dt.datetime.now(dt.timezone.utc).timestamp() * 1_000_000)
