"""Webhooks: registration, signing, and durable delivery with retries.

Every alert event queues one delivery row per enabled webhook of its project; :func:`deliver_due`
sends the rows whose time has come. Rows live in the database, so deliveries survive a restart,
and a row is claimed by compare-and-set on its next attempt time before it is sent, so two server
processes never send the same attempt. A failure (connection error, timeout, any non-2xx answer,
redirects included) is retried after ``retry_base_seconds * 2**(attempts-1)`` until
``max_attempts``, then the row is marked ``failed``.

Each request carries ``Contrail-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` computed with the
webhook's secret over ``f"{t}.".encode() + body`` (the scheme Stripe uses); see docs/alerts.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import Engine, delete, insert, select, update

from contrail._version import __version__
from contrail.schema.ids import uuid7
from contrail.schema.timeconv import now_us, us_to_rfc3339
from contrail.store.alert_tables import alert_events, webhook_deliveries, webhooks
from contrail.store.database import writing
from contrail.store.tables import projects

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Contrail-Signature"
MAX_URL_LENGTH = 2000
MAX_WEBHOOKS_PER_PROJECT = 20
_MAX_BACKOFF_S = 6 * 3600
_ERROR_CHARS = 500


class WebhookError(ValueError):
    """A webhook that cannot be registered as asked; the message says what to change."""


@dataclasses.dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    project_id: str
    url: str
    secret_hint: str
    enabled: bool
    created_us: int


@dataclasses.dataclass(frozen=True, slots=True)
class IssuedWebhook:
    """A new webhook and its signing secret: the only time the secret leaves the server."""

    webhook: Webhook
    secret: str


@dataclasses.dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    max_attempts: int = 8
    retry_base_seconds: float = 30.0
    timeout_seconds: float = 10.0
    allow_private: bool = True
    public_url: str = "http://127.0.0.1:7878"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Contrail-Signature`` header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now_s: int, tolerance_s: int = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now_s``."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now_s - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).rsplit("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def check_url(url: str, *, allow_private: bool) -> str:
    """A webhook URL: http or https, with a host; with ``allow_private`` False, a public address only."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise WebhookError(f"url must be 1 to {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise WebhookError(f"url is not a valid URL ({exc}).") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("url must be an http:// or https:// URL with a host.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise WebhookError("url must not contain spaces or control characters.")
    if not allow_private:
        _require_public(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return url


def _require_public(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise WebhookError(f"cannot resolve {host!r} ({exc}).") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise WebhookError(
                f"{host!r} resolves to a private or local address ({address}); this server only "
                "sends webhooks to public addresses (CONTRAIL_WEBHOOK_ALLOW_PRIVATE=false)."
            )


def create_webhook(engine: Engine, project_id: str, url: str, *, allow_private: bool) -> IssuedWebhook:
    """Register ``url`` for the project's alerts; raises WebhookError on a bad URL or too many."""
    checked = check_url(url, allow_private=allow_private)
    secret = "whsec_" + secrets.token_urlsafe(32)
    webhook = Webhook(uuid7(), project_id, checked, secret[:10] + "…", True, now_us())
    with writing(engine).begin() as connection:
        count = len(
            connection.execute(select(webhooks.c.id).where(webhooks.c.project_id == project_id)).all()
        )
        if count >= MAX_WEBHOOKS_PER_PROJECT:
            raise WebhookError(
                f"A project has at most {MAX_WEBHOOKS_PER_PROJECT} webhooks; delete one first."
            )
        connection.execute(insert(webhooks).values(**dataclasses.asdict(webhook), secret=secret))
    return IssuedWebhook(webhook, secret)


def list_webhooks(engine: Engine, project_id: str) -> list[Webhook]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(*_PUBLIC_COLUMNS).where(webhooks.c.project_id == project_id).order_by(webhooks.c.id)
        ).all()
    return [Webhook(**row._mapping) for row in rows]


def get_webhook(engine: Engine, project_id: str, webhook_id: str) -> Webhook | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(*_PUBLIC_COLUMNS).where(webhooks.c.project_id == project_id, webhooks.c.id == webhook_id)
        ).one_or_none()
    return None if row is None else Webhook(**row._mapping)


def delete_webhook(engine: Engine, project_id: str, webhook_id: str) -> bool:
    """Remove the webhook and its deliveries; False when the project has no such webhook."""
    where = (webhooks.c.project_id == project_id) & (webhooks.c.id == webhook_id)
    with writing(engine).begin() as connection:
        connection.execute(
            delete(webhook_deliveries).where(
                webhook_deliveries.c.webhook_id == webhook_id, webhook_deliveries.c.project_id == project_id
            )
        )
        return bool(connection.execute(delete(webhooks).where(where)).rowcount)


_PUBLIC_COLUMNS = (
    webhooks.c.id,
    webhooks.c.project_id,
    webhooks.c.url,
    webhooks.c.secret_hint,
    webhooks.c.enabled,
    webhooks.c.created_us,
)


def payload(event: dict[str, Any], project_name: str, public_url: str) -> bytes:
    """The JSON body sent for an alert event."""
    return orjson.dumps(
        {
            "id": event["id"],
            "kind": event["kind"],
            "created": us_to_rfc3339(event["created_us"]),
            "project": {"id": event["project_id"], "name": project_name},
            "details": orjson.loads(event["details"]),
            "url": f"{public_url.rstrip('/')}/settings/alerts?project={event['project_id']}",
        }
    )


def deliver_due(
    engine: Engine, client: httpx.Client, policy: DeliveryPolicy, at_us: int, limit: int = 50
) -> int:
    """Send each pending delivery due at ``at_us`` once; returns how many were attempted."""
    query = (
        select(
            webhook_deliveries.c.id,
            webhook_deliveries.c.attempts,
            webhook_deliveries.c.next_attempt_us,
            webhooks.c.url,
            webhooks.c.secret,
            projects.c.name.label("project_name"),
            *[c.label(f"event_{c.name}") for c in alert_events.c],
        )
        .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
        .join(alert_events, alert_events.c.id == webhook_deliveries.c.event_id)
        .join(projects, projects.c.id == webhook_deliveries.c.project_id)
        .where(webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_attempt_us <= at_us)
        .order_by(webhook_deliveries.c.next_attempt_us)
        .limit(limit)
    )
    with engine.connect() as connection:
        due = connection.execute(query).all()
    attempted = 0
    for row in due:
        if _claim(engine, row.id, row.next_attempt_us, at_us + int((policy.timeout_seconds + 30) * 1e6)):
            attempted += 1
            _attempt(engine, client, policy, row, at_us)
    return attempted


def _claim(engine: Engine, delivery_id: str, seen_next_us: int, lease_until_us: int) -> bool:
    # Whoever moves next_attempt_us first owns this attempt; a crash leaves it to retry after the lease.
    with writing(engine).begin() as connection:
        result = connection.execute(
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.status == "pending",
                webhook_deliveries.c.next_attempt_us == seen_next_us,
            )
            .values(next_attempt_us=lease_until_us)
        )
    return bool(result.rowcount)


def _attempt(engine: Engine, client: httpx.Client, policy: DeliveryPolicy, row: Any, at_us: int) -> None:
    event = {c.name: getattr(row, f"event_{c.name}") for c in alert_events.c}
    body = payload(event, row.project_name, policy.public_url)
    code, error = _send(client, policy, row, body, at_us)
    attempts = row.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "response_code": code,
        "last_error": error,
        "updated_us": at_us,
    }
    if error is None:
        values["status"] = "delivered"
    elif attempts >= policy.max_attempts:
        values["status"] = "failed"
        logger.warning("Webhook delivery %s gave up after %d attempts: %s", row.id, attempts, error)
    else:
        backoff_s = min(policy.retry_base_seconds * 2 ** (attempts - 1), _MAX_BACKOFF_S)
        values["next_attempt_us"] = at_us + int(backoff_s * 1_000_000)
    with writing(engine).begin() as connection:
        connection.execute(
            update(webhook_deliveries).where(webhook_deliveries.c.id == row.id).values(**values)
        )


def _send(
    client: httpx.Client, policy: DeliveryPolicy, row: Any, body: bytes, at_us: int
) -> tuple[int | None, str | None]:
    """POST the body; (status code, None) on a 2xx, else (status code or None, why it failed)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Contrail-Webhooks/{__version__}",
        SIGNATURE_HEADER: sign(row.secret, at_us // 1_000_000, body),
        "Contrail-Event": row.event_kind,
        "Contrail-Delivery": row.id,
    }
    try:
        if not policy.allow_private:
            parts = urlsplit(row.url)
            _require_public(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        response = client.post(row.url, content=body, headers=headers, timeout=policy.timeout_seconds)
    except WebhookError as exc:
        return None, str(exc)[:_ERROR_CHARS]
    except httpx.HTTPError as exc:
        # The exception's text never holds our headers (the signature), only the URL and the cause.
        return None, f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"
