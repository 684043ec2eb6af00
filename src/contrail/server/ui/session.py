"""Who is signed in to the Web UI, which project they are looking at, and CSRF protection.

The session cookie is HttpOnly, SameSite=Lax, and Secure when the request came over HTTPS. Every
state-changing request must carry the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``, which the UI's script sets for htmx from a meta tag); before sign-in, the token is
a double-submit cookie. Requests whose Origin is another site are refused outright.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from contrail.server.state import server_state
from contrail.store import accounts
from contrail.store.accounts import Action, Membership, UiSession, User

SESSION_COOKIE = "contrail_session"
LOGIN_CSRF_COOKIE = "contrail_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to /login."""


class UiError(Exception):
    """An error page (403, 404, 422…) with a message for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass(frozen=True, slots=True)
class SignedIn:
    """The signed-in user, the session's CSRF token and the project being looked at."""

    token: str
    user: User
    csrf_token: str
    projects: list[Membership]
    project: Membership | None

    def can(self, action: Action) -> bool:
        return accounts.can(self.project.role if self.project else None, action)

    def require(self, action: Action) -> Membership:
        """The current project, if the user's role there allows ``action``; else a 403."""
        if self.project is None:
            raise UiError(403, "You are not a member of any project yet. Ask an admin to add you.")
        if not self.can(action):
            raise UiError(
                403, f"Your role in {self.project.project_name!r} ({self.project.role}) does not allow this."
            )
        return self.project

    @property
    def project_id(self) -> str:
        return self.require("read").project_id


def _session(request: Request) -> UiSession | None:
    """The request's session (looked up once per request)."""
    if hasattr(request.state, "ui_session"):
        found: UiSession | None = request.state.ui_session
        return found
    token = request.cookies.get(SESSION_COOKIE)
    found = accounts.find_session(server_state(request).engine, token) if token else None
    request.state.ui_session = found
    return found


def signed_in(request: Request) -> SignedIn:
    """FastAPI dependency for UI pages: the signed-in user, else SignInRequired."""
    session = _session(request)
    if session is None:
        raise SignInRequired
    engine = server_state(request).engine
    memberships = accounts.memberships_of(engine, session.user)
    wanted = request.query_params.get("project") or session.project_id
    project = next((m for m in memberships if m.project_id == wanted), None)
    if project is None and memberships:
        project = memberships[0]
    return SignedIn(
        token=request.cookies[SESSION_COOKIE],
        user=session.user,
        csrf_token=session.csrf_token,
        projects=memberships,
        project=project,
    )


async def csrf_protect(request: Request) -> None:
    """Router dependency: refuse cross-site and token-less state-changing requests (403)."""
    if request.method in _SAFE_METHODS:
        return
    if not _same_origin(request):
        raise UiError(403, "Cross-site request refused.")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    session = await run_in_threadpool(_session, request)
    expected = session.csrf_token if session else request.cookies.get(LOGIN_CSRF_COOKIE)
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise UiError(
            403, "This form has expired or did not come from Contrail. Reload the page and try again."
        )


def _same_origin(request: Request) -> bool:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=accounts.SESSION_SECONDS, **_cookie_flags(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, **_cookie_flags(request))


def login_csrf_token(request: Request) -> str:
    """The pre-sign-in CSRF token: the one in the request's cookie, or a new one."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_login_csrf_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, **_cookie_flags(request))


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {"path": "/", "httponly": True, "samesite": "lax", "secure": request.url.scheme == "https"}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def safe_next(target: str | None) -> str:
    """A redirect target within this site (an absolute path), else /traces."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and "\\" not in target:
        return target
    return "/traces"
