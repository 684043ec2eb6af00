"""``configure()``, ``flush()`` and ``shutdown()``: the SDK's life cycle."""

from __future__ import annotations

from typing import Any

from contrail.sdk import guard
from contrail.sdk import tracer as _tracer
from contrail.sdk.config import MaskHook, resolve


def configure(
    *,
    host: str | None = None,
    public_key: str | None = None,
    secret_key: str | None = None,
    enabled: bool | None = None,
    sample_rate: float | None = None,
    environment: str | None = None,
    release: str | None = None,
    capture: bool | None = None,
    redact_pii: bool | None = None,
    mask: MaskHook | None = None,
    **advanced: Any,
) -> None:
    """Configure the SDK; arguments override the ``CONTRAIL_*`` environment (see docs/sdk.md).

    ``mask`` is called with every input, output and metadata value on the export thread before
    encoding; what it returns is exported. ``advanced`` takes the other Config fields
    (``flush_interval``, ``batch_size``, ``max_queue``, ``timeout``, ``max_retries``,
    ``max_field_chars``, ``redact_secrets``, ``strict``, ...). Unknown names raise TypeError.
    """
    overrides = dict(
        host=host,
        public_key=public_key,
        secret_key=secret_key,
        enabled=enabled,
        sample_rate=sample_rate,
        environment=environment,
        release=release,
        capture=capture,
        redact_pii=redact_pii,
        mask=mask,
        **advanced,
    )
    _tracer.install(resolve(overrides))


def flush(timeout: float | None = None) -> bool:
    """Block until queued observations are exported; False if ``timeout`` seconds passed first."""
    try:
        exporter = _tracer.current_tracer().exporter
        return True if exporter is None else exporter.flush(timeout)
    except Exception as exc:
        guard.report("flush", exc)
        return False


def shutdown(timeout: float | None = None) -> None:
    """Flush (bounded by ``timeout``) and stop the export thread. Also runs at interpreter exit."""
    try:
        tracer = _tracer.STATE
        if tracer is not None and tracer.exporter is not None:
            tracer.exporter.shutdown(timeout)
    except Exception as exc:
        guard.report("shutdown", exc)
