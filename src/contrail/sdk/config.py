"""SDK configuration: the one place the SDK reads its environment variables.

Every ``CONTRAIL_*`` variable the SDK understands is listed in ``ENV_VARS`` (and in docs/sdk.md under
"Configuration"). Bad values never raise: they log one warning naming the variable and fall back to
the default, because a typo in an environment must not take the host application down.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

_log = logging.getLogger("contrail")

DEFAULT_HOST = "http://127.0.0.1:7878"

MaskHook = Callable[[Any], Any]

ENV_VARS: dict[str, str] = {
    "CONTRAIL_HOST": "Base URL of the Contrail server (default http://127.0.0.1:7878).",
    "CONTRAIL_PUBLIC_KEY": "Project public key (pk-...); with the secret key, sent as HTTP Basic auth.",
    "CONTRAIL_SECRET_KEY": "Project secret key (sk-...); alone, sent as a Bearer token.",
    "CONTRAIL_ENABLED": "0/false turns tracing off: decorators become pass-throughs (default 1).",
    "CONTRAIL_SAMPLE_RATE": "Fraction of traces kept, 0.0-1.0, decided at the root span (default 1.0).",
    "CONTRAIL_ENVIRONMENT": "Environment name attached to every observation (e.g. production).",
    "CONTRAIL_RELEASE": "Release / version of the application attached to every observation.",
    "CONTRAIL_CAPTURE": "0/false stops capturing function inputs and outputs globally (default 1).",
    "CONTRAIL_REDACT_PII": "1 redacts e-mails, phone numbers, card numbers (Luhn) and IBANs (default 0).",
    "CONTRAIL_STRICT": "1 re-raises SDK-internal errors instead of logging them (for tests).",
    "CONTRAIL_FLUSH_INTERVAL": "Seconds between background exports (default 1.0).",
    "CONTRAIL_BATCH_SIZE": "Observations per export request (default 512).",
    "CONTRAIL_MAX_QUEUE": "Observations held in memory before new ones are dropped (default 10000).",
    "CONTRAIL_TIMEOUT": "HTTP timeout in seconds for one export request (default 5.0).",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclasses.dataclass(frozen=True)
class Config:
    """Resolved SDK settings. Build it with :func:`resolve`; fields are documented in ``ENV_VARS``."""

    host: str = DEFAULT_HOST
    public_key: str | None = None
    secret_key: str | None = None
    enabled: bool = True
    sample_rate: float = 1.0
    environment: str | None = None
    release: str | None = None
    capture: bool = True
    redact_secrets: bool = True
    redact_pii: bool = False
    strict: bool = False
    mask: MaskHook | None = None
    flush_interval: float = 1.0
    batch_size: int = 512
    max_queue: int = 10_000
    timeout: float = 5.0
    max_retries: int = 5
    retry_base_delay: float = 0.5
    max_field_chars: int = 32_000
    max_items: int = 1_000
    max_depth: int = 10
    gzip: bool = True
    shutdown_timeout: float = 2.0

    @property
    def ingest_url(self) -> str:
        return self.host.rstrip("/") + "/api/v1/ingest"

    def auth_header(self) -> str | None:
        """``Basic`` when both keys are set, ``Bearer`` for a secret key alone, else ``None``."""
        import base64

        if self.public_key and self.secret_key:
            token = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode("ascii")
            return f"Basic {token}"
        if self.secret_key:
            return f"Bearer {self.secret_key}"
        return None


def resolve(overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Merge defaults, environment and explicit ``overrides`` (highest priority) into a Config.

    Unknown override names raise ``TypeError`` (a programming error, caught at configure time);
    bad environment values log one warning and keep the default.
    """
    environ = os.environ if env is None else env
    values: dict[str, Any] = _from_env(environ)
    for key, value in (overrides or {}).items():
        if key not in _FIELDS:
            raise TypeError(f"contrail.configure() got an unknown setting {key!r}")
        if value is not None:
            values[key] = value
    return _validated(Config(**values))


_FIELDS = {f.name for f in dataclasses.fields(Config)}


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in (
        ("CONTRAIL_HOST", "host"),
        ("CONTRAIL_PUBLIC_KEY", "public_key"),
        ("CONTRAIL_SECRET_KEY", "secret_key"),
        ("CONTRAIL_ENVIRONMENT", "environment"),
        ("CONTRAIL_RELEASE", "release"),
    ):
        if environ.get(name):
            values[field] = environ[name]
    for name, field in (
        ("CONTRAIL_ENABLED", "enabled"),
        ("CONTRAIL_CAPTURE", "capture"),
        ("CONTRAIL_REDACT_PII", "redact_pii"),
        ("CONTRAIL_STRICT", "strict"),
    ):
        if name in environ:
            _put(values, field, _parse_bool(name, environ[name]))
    for name, field, kind in (
        ("CONTRAIL_SAMPLE_RATE", "sample_rate", float),
        ("CONTRAIL_FLUSH_INTERVAL", "flush_interval", float),
        ("CONTRAIL_TIMEOUT", "timeout", float),
        ("CONTRAIL_BATCH_SIZE", "batch_size", int),
        ("CONTRAIL_MAX_QUEUE", "max_queue", int),
    ):
        if environ.get(name):
            _put(values, field, _parse_number(name, environ[name], kind))
    return values


def _put(values: dict[str, Any], field: str, value: Any) -> None:
    if value is not None:
        values[field] = value


def _parse_bool(name: str, raw: str) -> bool | None:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    _log.warning("Ignoring %s=%r: expected 1/0/true/false.", name, raw)
    return None


def _parse_number(name: str, raw: str, kind: type[float] | type[int]) -> float | int | None:
    try:
        return kind(raw)
    except ValueError:
        _log.warning("Ignoring %s=%r: expected a %s.", name, raw, kind.__name__)
        return None


def _validated(config: Config) -> Config:
    fixes: dict[str, Any] = {}
    if not 0.0 <= config.sample_rate <= 1.0:
        _log.warning("Contrail sample_rate=%r is outside 0.0-1.0; using 1.0.", config.sample_rate)
        fixes["sample_rate"] = 1.0
    parts = urlsplit(config.host)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        _log.warning(
            "Contrail host %r is not an http(s) URL; tracing stays on but exports will fail. "
            "Set CONTRAIL_HOST, e.g. %s.",
            config.host,
            DEFAULT_HOST,
        )
    for field, floor in (("batch_size", 1), ("max_queue", 1), ("flush_interval", 0.001), ("timeout", 0.001)):
        if getattr(config, field) < floor:
            _log.warning("Contrail %s=%r is too small; using the default.", field, getattr(config, field))
            fixes[field] = getattr(Config, field)
    return dataclasses.replace(config, **fixes) if fixes else config
