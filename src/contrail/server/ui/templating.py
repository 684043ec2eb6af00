"""The Jinja2 environment of the Web UI (autoescape always on) and its display filters."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from starlette.responses import HTMLResponse

from contrail._version import __version__
from contrail.schema.timeconv import us_to_rfc3339
from contrail.server.ui.session import SignedIn
from contrail.server.ui.waterfall import DASH, format_ms

UI_DIR = Path(__file__).parent
STATIC_DIR = UI_DIR / "static"


def _static_version() -> str:
    """Changes whenever a static file does, so browsers never run a stale script after an upgrade."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def usd(value: Decimal | str | None) -> str:
    if value is None or value == "":
        return DASH
    amount = Decimal(value)
    if amount == 0:
        return "$0"
    if amount < Decimal("0.01"):
        return f"${amount:.6f}".rstrip("0")
    return f"${amount:,.4f}".rstrip("0").rstrip(".")


def tokens(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def when(value: str | None) -> str:
    """An RFC 3339 time as ``2026-11-25 10:04:05`` (UTC)."""
    if not value:
        return DASH
    stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def short_when(value: str | None) -> str:
    """An RFC 3339 time as ``Nov 25 10:04:05`` (UTC), for narrow columns."""
    if not value:
        return DASH
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%b %d %H:%M:%S")


def at_us(value: int | None) -> str:
    return when(us_to_rfc3339(value))


def score_value(score: dict[str, Any]) -> str:
    if score.get("string_value") is not None:
        return str(score["string_value"])
    value = score.get("value")
    if isinstance(value, float):
        return f"{value:g}"
    return DASH if value is None else str(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(UI_DIR / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        ms=format_ms, usd=usd, tokens=tokens, when=when, short_when=short_when, at_us=at_us, score=score_value
    )
    env.globals.update(static_version=_static_version(), version=__version__, urlencode_pairs=urlencode)
    return env


ENV = _environment()


def render(
    request: Request,
    template: str,
    who: SignedIn | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the signed-in user, project and CSRF token available to it."""
    html = ENV.get_template(template).render(request=request, who=who, path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers=headers)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
