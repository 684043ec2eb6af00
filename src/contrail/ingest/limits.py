"""Limits applied while turning untrusted ingest payloads into observations."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class IngestLimits:
    """Bounds on one ingested span; values beyond them are truncated with a marker or rejected.

    ``max_value_bytes`` bounds each attribute value and each input/output after JSON encoding;
    ``max_json_depth`` bounds nesting; spans starting more than ``max_future_skew_us`` ahead of the
    server clock or before ``min_start_us`` are rejected.
    """

    max_value_bytes: int = 256 * 1024
    max_json_depth: int = 64
    max_future_skew_us: int = 24 * 3600 * 1_000_000
    min_start_us: int = 946_684_800 * 1_000_000  # 2000-01-01T00:00:00Z
    max_spans_per_request: int = 10_000
